import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
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
  await registerTsx(file);
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

let tsxRegistered = false;

/** Registers tsx's ESM loader once, when a TypeScript module is about to load. */
async function registerTsx(file: string): Promise<void> {
  if (tsxRegistered || !TS_EXTENSIONS.has(path.extname(file))) return;
  const { register } = await import('tsx/esm/api');
  register();
  tsxRegistered = true;
}

/** The module specifiers of `imports` then `include` (a string or a list of strings each). */
function importSpecifiers(settings: Record<string, unknown>): string[] {
  const specs: string[] = [];
  for (const name of ['imports', 'include'] as const) {
    const value = settings[name];
    if (value === undefined || value === null) continue;
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || !list.every((v): v is string => typeof v === 'string' && v !== '')) {
      throw new WorkerCliError(
        'WORKER_CONFIG_INVALID',
        `Setting ${name} must be a module specifier or a list of them, got ${JSON.stringify(value)}.`,
      );
    }
    specs.push(...list);
  }
  return specs;
}

/**
 * Celery's `imports` and `include`: the modules the worker imports at start, after the app, so the
 * tasks they register on it (`app.task(...)`) are served. A path (`./tasks/mail.ts`, `/abs/x.js`)
 * is resolved from `cwd` with the extensions `-A` tries; anything else is a package specifier,
 * resolved from the app's file. A module that is missing or fails to load stops the worker
 * (as Celery's ImportError does). Returns the files imported, in order.
 */
export async function loadImports(
  settings: Record<string, unknown>,
  appFile: string,
  cwd = process.cwd(),
): Promise<string[]> {
  const loaded: string[] = [];
  for (const spec of importSpecifiers(settings)) {
    let file: string | undefined;
    if (spec.startsWith('.') || path.isAbsolute(spec)) {
      const base = path.resolve(cwd, spec);
      file = TRY_EXTENSIONS.map((ext) => base + ext).find((candidate) => existsSync(candidate));
    } else {
      try {
        file = createRequire(appFile).resolve(spec);
      } catch {
        file = undefined;
      }
    }
    if (file === undefined) {
      throw new WorkerCliError(
        'WORKER_APP_INVALID',
        `Cannot find the module "${spec}" named in imports/include (looked from ${cwd}); a Celeriac worker imports JavaScript/TypeScript modules (./tasks/mail.ts or a package), not Python ones: give it its own imports.`,
      );
    }
    await registerTsx(file);
    try {
      await import(pathToFileURL(file).href);
    } catch (error) {
      throw new WorkerCliError(
        'WORKER_APP_INVALID',
        `Loading ${file} (imports/include) failed: ${(error as Error).message}`,
      );
    }
    loaded.push(file);
  }
  return loaded;
}
