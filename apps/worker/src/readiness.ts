import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@celeriac/logger';

/** What the ready file holds. */
export interface ReadyInfo {
  pid: number;
  name: string;
  queues: string[];
  ready_at: string;
}

/** Writes `file` atomically: a temp file beside it, then rename. */
async function writeAtomically(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    // No fsync: the file only matters while this process lives, and rename alone makes it appear whole.
    await writeFile(temp, content);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
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
  if (o.readyFile !== null) await writeAtomically(o.readyFile, `${JSON.stringify(info)}\n`);
  o.logger.info({ event: 'worker.ready', pid: info.pid, name: info.name, queues: info.queues }, `${o.name} ready.`);
  if (typeof process.send === 'function' && process.connected) process.send({ type: 'celeriac.ready', ...info });
}
