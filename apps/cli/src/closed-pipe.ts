/** Errors a write to a pipe whose reader went away ends with (EPIPE), and every write after it. */
const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

/**
 * When the reader of `stream` goes away (`celeriac config set ... | head -1`), later output is
 * dropped instead of ending the program with an EPIPE stack trace: the command finishes what it
 * was doing (a change already sent stays made) and exits with its usual code. Other errors of the
 * stream stay fatal, as they were.
 */
export function dropOutputOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (!CLOSED.has(error.code ?? '')) throw error;
    stream.write = ((_chunk: unknown, encoding?: unknown, callback?: unknown) => {
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') queueMicrotask(() => done());
      return true;
    }) as NodeJS.WriteStream['write'];
  });
}
