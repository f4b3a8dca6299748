import { open, readFile } from 'node:fs/promises';
import { sleep } from '@celeriac/common';
import type { Readiness } from './program-launch.js';

/** What readiness waiting needs to know about the process. */
export interface ReadinessTarget {
  pid: number;
  /** True once the process has exited. */
  hasExited(): boolean;
}

/** Result of waiting: ready, or why not. */
export type ReadinessResult = { ready: true } | { ready: false; reason: 'timeout' | 'exited' | 'aborted' };

const POLL_MS = 20;

/**
 * Waits until the process says it is ready: its ready file names its pid (celeriac workers), a
 * line matching a pattern appears in its log after `logOffset` (Celery's "<name> ready."), or it
 * is still alive after a grace period (plain commands).
 */
export async function waitForReadiness(
  target: ReadinessTarget,
  readiness: Readiness,
  options: { timeoutMs: number; logOffset?: number; signal?: AbortSignal },
): Promise<ReadinessResult> {
  const startedAt = Date.now();
  const deadline = startedAt + options.timeoutMs;
  let logOffset = options.logOffset ?? 0;
  let carry = '';
  for (;;) {
    if (options.signal?.aborted) return { ready: false, reason: 'aborted' };
    if (target.hasExited()) return { ready: false, reason: 'exited' };
    if (readiness.type === 'file') {
      if (await readyFileNames(readiness.path, target.pid)) return { ready: true };
    } else if (readiness.type === 'line') {
      const chunk = await readFrom(readiness.logFile, logOffset);
      if (chunk.length > 0) {
        logOffset += chunk.length;
        const text = carry + chunk.toString('utf8');
        if (readiness.pattern.test(text)) return { ready: true };
        carry = text.slice(-4096);
      }
    } else if (Date.now() - startedAt >= readiness.ms) {
      return { ready: true };
    }
    if (Date.now() >= deadline) return { ready: false, reason: 'timeout' };
    await sleep(POLL_MS, options.signal);
  }
}

async function readyFileNames(file: string, pid: number): Promise<boolean> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as { pid?: unknown };
    return value.pid === pid;
  } catch {
    return false;
  }
}

async function readFrom(file: string, offset: number): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    if (size <= offset) return Buffer.alloc(0);
    const buffer = Buffer.alloc(Math.min(size - offset, 1 << 20));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead);
  } catch {
    return Buffer.alloc(0);
  } finally {
    await handle?.close();
  }
}
