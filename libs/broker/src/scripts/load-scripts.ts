import { existsSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { BrokerScriptMissingError } from '../errors.js';

/** The Lua scripts as ioredis commands (EVALSHA with an EVAL fallback); the first argument is numkeys. */
export interface BrokerScripts {
  fetchBatch(numKeys: number, ...keysAndArgs: string[]): Promise<(string | number)[]>;
  recordDelivery(numKeys: number, ...keysAndArgs: string[]): Promise<string>;
  ack(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  requeue(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  restoreTags(numKeys: number, ...keysAndArgs: string[]): Promise<[number, number, number]>;
  restoreInflight(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  markStarted(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  recordMoved(numKeys: number, ...keysAndArgs: string[]): Promise<string | null>;
  returnMoved(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  renewLease(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  releaseOwner(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  defer(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  promoteDue(numKeys: number, ...keysAndArgs: string[]): Promise<(string | number)[]>;
  takeLimited(numKeys: number, ...keysAndArgs: string[]): Promise<string[]>;
  deadLetter(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  deadLetterRequeue(numKeys: number, ...keysAndArgs: string[]): Promise<[number, number, number, string]>;
  releaseMutex(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  fleetTake(numKeys: number, ...keysAndArgs: string[]): Promise<[number, number, number]>;
  fleetAcquire(numKeys: number, ...keysAndArgs: string[]): Promise<[number, number, number]>;
  fleetRelease(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  fleetRenew(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
}

/** Lua has no includes: scripts that record deliveries get this chunk prepended. */
const DELIVERY_TAG_HELPERS = 'delivery-tag.lua';
/** ... and scripts that put back what a dead consumer held get this one. */
const REDELIVERY_HELPERS = 'redelivery.lua';

const FILES: Record<keyof BrokerScripts, string | string[]> = {
  fetchBatch: [DELIVERY_TAG_HELPERS, 'fetch-batch.lua'],
  recordDelivery: [DELIVERY_TAG_HELPERS, 'record-delivery.lua'],
  ack: 'ack.lua',
  requeue: 'requeue.lua',
  restoreTags: [REDELIVERY_HELPERS, 'restore-tags.lua'],
  restoreInflight: 'restore-inflight.lua',
  markStarted: 'mark-started.lua',
  recordMoved: [DELIVERY_TAG_HELPERS, 'record-moved.lua'],
  returnMoved: 'return-moved.lua',
  renewLease: 'renew-lease.lua',
  releaseOwner: 'release-owner.lua',
  defer: 'defer.lua',
  promoteDue: 'promote-due.lua',
  takeLimited: [DELIVERY_TAG_HELPERS, 'take-limited.lua'],
  deadLetter: 'dead-letter.lua',
  deadLetterRequeue: 'dead-letter-requeue.lua',
  releaseMutex: 'release-mutex.lua',
  fleetTake: 'fleet-take.lua',
  fleetAcquire: 'fleet-acquire.lua',
  fleetRelease: 'fleet-release.lua',
  fleetRenew: 'fleet-renew.lua',
};

// The .lua files live in src/scripts; from the compiled dist/scripts they are found in ../../src/scripts.
const DIRS = [new URL('./', import.meta.url), new URL('../../src/scripts/', import.meta.url)];

let sources: Map<string, string> | undefined;

function readScript(file: string): string {
  for (const dir of DIRS) {
    const url = new URL(file, dir);
    if (existsSync(url)) return readFileSync(url, 'utf8');
  }
  throw new BrokerScriptMissingError(file, DIRS[0]!.pathname);
}

/** Registers every broker script on a connection and returns it typed. */
export function defineBrokerScripts(redis: Redis): Redis & BrokerScripts {
  if (!sources) {
    sources = new Map();
    for (const [name, files] of Object.entries(FILES)) {
      sources.set(name, [files].flat().map(readScript).join('\n'));
    }
  }
  for (const [name, lua] of sources) redis.defineCommand(name, { lua });
  return redis as Redis & BrokerScripts;
}
