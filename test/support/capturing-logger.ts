import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@celeriac/logger';

/** A logger that keeps its JSON lines (debug level unless told), for tests that read what was logged. */
export function capturingLogger(level = 'debug'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger: createLogger({ level, pretty: false, destination }), lines, text };
}
