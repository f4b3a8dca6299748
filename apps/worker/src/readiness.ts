import { writeFileAtomic } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';

/** What the ready file holds. */
export interface ReadyInfo {
  pid: number;
  name: string;
  queues: string[];
  ready_at: string;
}

/**
 * Tells a supervisor that the worker is connected and consuming, three ways: the ready file
 * (atomic), a log line with `"event":"worker.ready"`, and an IPC message when there is a channel.
 */
export async function announceReady(o: {
  readyFile: string | null;
  name: string;
  queues: string[];
  logger: Logger;
}): Promise<void> {
  const info: ReadyInfo = { pid: process.pid, name: o.name, queues: o.queues, ready_at: new Date().toISOString() };
  if (o.readyFile !== null) {
    // Not durable: the file only matters while this process lives, and rename alone makes it appear whole.
    await writeFileAtomic(o.readyFile, `${JSON.stringify(info)}\n`, { durable: false, createDir: true, mode: 0o644 });
  }
  o.logger.info({ event: 'worker.ready', pid: info.pid, name: info.name, queues: info.queues }, `${o.name} ready.`);
  if (typeof process.send === 'function' && process.connected) process.send({ type: 'celeriac.ready', ...info });
}
