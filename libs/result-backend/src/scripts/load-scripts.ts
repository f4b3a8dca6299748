import { existsSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { ResultBackendScriptMissingError } from '../errors.js';

/** The Lua scripts as ioredis commands (EVALSHA with an EVAL fallback); the first argument is numkeys. */
export interface ResultBackendScripts {
  storeMany(numKeys: number, ...args: (string | Buffer)[]): Promise<number>;
}

// The .lua files live in src/scripts; from the compiled dist/scripts they are found in ../../src/scripts.
const DIRS = [new URL('./', import.meta.url), new URL('../../src/scripts/', import.meta.url)];

let storeManySource: string | undefined;

function readScript(file: string): string {
  for (const dir of DIRS) {
    const url = new URL(file, dir);
    if (existsSync(url)) return readFileSync(url, 'utf8');
  }
  throw new ResultBackendScriptMissingError(file, DIRS[0]!.pathname);
}

/** Registers the result backend's scripts on a connection and returns it typed. */
export function defineResultScripts(redis: Redis): Redis & ResultBackendScripts {
  storeManySource ??= readScript('store-many.lua');
  redis.defineCommand('storeMany', { lua: storeManySource });
  return redis as Redis & ResultBackendScripts;
}
