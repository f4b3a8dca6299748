import { Celeriac } from '@celeriac/client';
import { createLogger, type Logger, logSchemaViolations } from '@celeriac/logger';
import type { ResultDocument } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Worker, type WorkerOptions } from '../src/index.js';

/** Packages whose lines a worker's logger carries. */
const EVENT_PREFIXES = ['worker.', 'broker.', 'result_backend.', 'client.', 'redis.', 'control.'];

/** Log-schema problems of every captured line since the last `takeLogSchemaProblems()`. */
const schemaProblems: string[] = [];

/**
 * The log schema beyond `logSchemaViolations`: the event names its package, and an error is
 * logged as the `err` field holding the Error (serialized as an object), never as a string.
 */
export function logLineProblems(line: Record<string, unknown>): string[] {
  const problems = logSchemaViolations(line);
  const event = String(line.event);
  if (!EVENT_PREFIXES.some((prefix) => event.startsWith(prefix))) problems.push(`event "${event}" names no package`);
  if ('error' in line) problems.push('an error is logged as "error", not "err"');
  if ('err' in line && (line.err === null || typeof line.err !== 'object')) {
    problems.push('"err" is not an Error object');
  }
  return problems.map((p) => `${event}: ${p}`);
}

/** Returns (and forgets) the schema problems of every line captured so far. */
export function takeLogSchemaProblems(): string[] {
  return schemaProblems.splice(0);
}

/** Log lines a test can inspect; every line is checked against the log schema. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly logger: Logger;

  constructor() {
    this.logger = createLogger({
      level: 'debug',
      pretty: false,
      destination: {
        write: (text: string) => {
          const line = JSON.parse(text) as Record<string, unknown>;
          this.lines.push(line);
          schemaProblems.push(...logLineProblems(line));
        },
      },
    });
  }

  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === name);
  }
}

/** One redis-server per test file, raw connections to the broker (db 0) and backend (db 1) dbs. */
export class Harness {
  redis!: RedisServer;
  broker!: Redis;
  results!: Redis;
  private readonly apps: Celeriac[] = [];
  private readonly workers: Worker[] = [];

  async start(): Promise<void> {
    this.redis = await RedisServer.start();
    this.broker = new Redis(this.redis.url(0));
    this.results = new Redis(this.redis.url(1));
  }

  /** A fresh app on this server (db 0 broker, db 1 results). */
  app(settings: Record<string, unknown> = {}): Celeriac {
    const app = new Celeriac('tests', {
      broker_url: this.redis.url(0),
      result_backend: this.redis.url(1),
      ...settings,
    });
    this.apps.push(app);
    return app;
  }

  /** Starts a worker for `app`; stopped (cold) in `reset()` if the test did not stop it. */
  async worker(app: Celeriac, options: Partial<WorkerOptions> = {}, log = new LogCapture()): Promise<Worker> {
    const worker = new Worker({
      app,
      queues: ['celery'],
      concurrency: 4,
      hostname: 'test@host',
      logger: log.logger,
      ...options,
    });
    this.workers.push(worker);
    await worker.start();
    return worker;
  }

  /** The stored result document of a task, or null. */
  async doc(id: string): Promise<ResultDocument | null> {
    const raw = await this.results.get(`celery-task-meta-${id}`);
    return raw === null ? null : (JSON.parse(raw) as ResultDocument);
  }

  /** Polls until the task's document has `status` (or any final state when omitted). */
  async waitDoc(id: string, status?: string, timeoutMs = 10_000): Promise<ResultDocument> {
    return waitFor(async () => {
      const doc = await this.doc(id);
      if (doc === null) return undefined;
      if (status === undefined ? ['SUCCESS', 'FAILURE', 'REVOKED'].includes(doc.status) : doc.status === status)
        return doc;
      return undefined;
    }, timeoutMs);
  }

  /** Stops workers and apps of the last test and empties Redis; fails on log lines off the schema. */
  async reset(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.coldShutdown()));
    await Promise.all(this.apps.splice(0).map((a) => a.close()));
    await this.broker.flushall();
    const problems = [...new Set(takeLogSchemaProblems())];
    if (problems.length > 0) throw new Error(`Log lines off the schema:\n- ${problems.join('\n- ')}`);
  }

  async stop(): Promise<void> {
    await this.reset();
    this.broker?.disconnect();
    this.results?.disconnect();
    await this.redis?.stop();
  }
}

/** Polls `probe` until it returns something other than undefined. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** A promise a test resolves by hand (to hold tasks running). */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
