/** What `raceTimeout` resolves with when the deadline passes first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Resolves with `promise`'s value, or with `TIMED_OUT` once `ms` have passed, whichever comes
 * first. The timer is always cleared, so a settled race leaves nothing behind. The promise itself
 * is not cancelled: the caller decides what a timeout means (abandon, kill, report).
 */
export async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`; `signal` ends the wait early (resolving, not rejecting). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
