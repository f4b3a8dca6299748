import type { Redis } from 'ioredis';
import { eventually } from './center-api.js';

/** How many times each task ran, as the fleet tasks record it (support/fleet-task-app.mjs); null: never. */
export async function fleetRuns(db: Redis, ids: string[]): Promise<(number | null)[]> {
  if (ids.length === 0) return [];
  return (await db.hmget('fleet:runs', ...ids)).map((v) => (v === null ? null : Number(v)));
}

/** Waits until each of `ids` ran at least once. */
export async function fleetTasksDone(db: Redis, ids: string[], timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => (await fleetRuns(db, ids)).every((v) => v !== null),
    timeoutMs,
    `${ids.length} tasks done`,
  );
}
