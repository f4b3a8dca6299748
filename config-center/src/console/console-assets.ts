import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the console's files live: `config-center/console/`, beside `src/` and `dist/` alike. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/** URL path under which the console's scripts and stylesheet are served. */
export const CONSOLE_ASSET_PREFIX = '/console/assets/';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** One file of the console, served exactly as it is on disk. */
export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

/** The console's files, read once: the page, and every script and stylesheet by file name. */
export interface ConsoleAssets {
  page: Buffer;
  files: Map<string, ConsoleAsset>;
}

let loaded: ConsoleAssets | undefined;

/** Reads `console/` once (the first center built in a process does it): no file is read per request. */
export function consoleAssets(): ConsoleAssets {
  if (loaded) return loaded;
  const files = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(CONSOLE_DIR).sort()) {
    const contentType = TYPES[path.extname(name)];
    if (contentType) files.set(name, { body: readFileSync(path.join(CONSOLE_DIR, name)), contentType });
  }
  loaded = { page: readFileSync(path.join(CONSOLE_DIR, 'index.html')), files };
  return loaded;
}

/**
 * The page loads only its own scripts and stylesheet, from this origin, and talks only to this
 * origin's API; nothing inline runs.
 */
export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
