import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, type Logger } from '@celeriac/logger';
import { type ConfigStore, FileStore, type RunningCenter, startCenter } from '../../src/index.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** A listening center on a free port with its own data directory and captured log lines. */
export interface TestCenter {
  url: string;
  dataDir: string;
  logLines: string[];
  running: RunningCenter;
  close(): Promise<void>;
}

/** A logger whose JSON lines land in `lines`. */
export function captureLogger(lines: string[]): Logger {
  return createLogger({ level: 'debug', pretty: false, destination: { write: (line: string) => lines.push(line) } });
}

/** Starts a center; by default with a file store in a fresh temp directory. */
export async function startTestCenter(
  options: { dataDir?: string; store?: ConfigStore; maxWaitMs?: number; heartbeatMs?: number; keepData?: boolean } = {},
): Promise<TestCenter> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'celeriac-center-'));
  const logLines: string[] = [];
  const logger = captureLogger(logLines);
  const running = await startCenter({
    listen: '127.0.0.1:0',
    store: options.store ?? new FileStore({ dataDir, logger, statusFlushMs: 20 }),
    adminToken: ADMIN_TOKEN,
    logger,
    maxWaitMs: options.maxWaitMs ?? 60_000,
    heartbeatMs: options.heartbeatMs ?? 10_000,
  });
  return {
    url: running.url,
    dataDir,
    logLines,
    running,
    close: async () => {
      await running.close();
      if (!options.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An HTTP answer with its body parsed when it is JSON. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  body: any;
  text: string;
}

/** Sends one request; `body` is sent as JSON unless `rawBody` is given. */
export async function api(
  base: string,
  method: string,
  urlPath: string,
  options: {
    token?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = body;
  if (options.signal) init.signal = options.signal;
  const response = await fetch(`${base}${urlPath}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** Polls `check` until it returns true or the timeout passes. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A minimal valid node layer with one celeriac worker program. */
export function workerNodeLayer(groups: string[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    groups,
    programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'], concurrency: 4 } },
    ...extra,
  };
}
