import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkerApp } from '@celeriac/worker-runtime';
import { WorkerCliError } from './errors.js';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
const TRY_EXTENSIONS = ['', '.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js'];

/** An app module as loaded: the app and the file it came from. */
export interface LoadedApp {
  app: WorkerApp & {
    close?(): Promise<void>;
    conf: WorkerApp['conf'] & {
      loadFile?(file: string): Promise<unknown>;
      update?(settings: Record<string, unknown>): unknown;
    };
  };
  file: string;
}

function looksLikeApp(value: unknown): value is LoadedApp['app'] {
  const v = value as { tasks?: unknown; conf?: { settings?: unknown } } | null;
  return v !== null && typeof v === 'object' && v.tasks instanceof Map && typeof v.conf?.settings === 'object';
}

/**
 * Loads `-A <module>[:attr]` like Celery: the export `attr`, else `app`, else the default export.
 * TypeScript modules load through tsx's ESM loader, registered only when needed (start-up stays
 * fast for .js apps).
 */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<LoadedApp> {
  const colon = spec.lastIndexOf(':');
  const hasAttr = colon > 1 && !spec.slice(colon).includes('/');
  const modulePath = hasAttr ? spec.slice(0, colon) : spec;
  const attr = hasAttr ? spec.slice(colon + 1) : null;
  const base = path.resolve(cwd, modulePath);
  const file = TRY_EXTENSIONS.map((ext) => base + ext).find((candidate) => existsSync(candidate));
  if (file === undefined) {
    throw new WorkerCliError(
      'WORKER_APP_NOT_FOUND',
      `Cannot find the app module "${modulePath}" (looked in ${cwd}); pass -A ./tasks.ts or -A ./tasks.js.`,
    );
  }
  if (TS_EXTENSIONS.has(path.extname(file))) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new WorkerCliError('WORKER_APP_INVALID', `Loading ${file} failed: ${(error as Error).message}`);
  }
  const candidate = attr !== null ? mod[attr] : (mod.app ?? mod.default);
  if (!looksLikeApp(candidate)) {
    const what = attr !== null ? `an export "${attr}"` : 'an export "app" or a default export';
    throw new WorkerCliError(
      'WORKER_APP_INVALID',
      `${file} has no Celeriac app as ${what}; export const app = new Celeriac(...).`,
    );
  }
  return { app: candidate, file };
}
