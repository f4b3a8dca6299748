import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/** The agent package's version, reported with every status. */
export function agentVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
      version = pkg.version ?? '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}

/** `apps/cli/bin/celeriac.js` of this checkout: what a celeriac-worker program runs. */
export function defaultCeleriacBin(): string {
  return fileURLToPath(new URL('../../cli/bin/celeriac.js', import.meta.url));
}

/** `text` cut to `max` characters, with an ellipsis when it was longer. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
