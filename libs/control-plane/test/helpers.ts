import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ControlTarget,
  QueriedTask,
  RegisteredTaskInfo,
  ScheduledRequestInfo,
  TaskRequestInfo,
  TaskSettingResult,
} from '@celeriac/control-plane';
import { Redis } from 'ioredis';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';

export { capturingLogger } from '../../../test/support/capturing-logger.js';

/** Folder of the Python helpers (`ctlapp.py`, `mailbox_call.py`, ...). */
export const PY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'py');
/** Debian's Python with Celery 5.2. */
export const PYTHON = '/usr/bin/python3';

/** A fixture file parsed. */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(`${CELERY_FIXTURES_DIR}/${name}.json`, 'utf8')) as T;
}

/** A plain client for reading keys and subscribing in tests. */
export function inspector(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function until<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Environment of the Python helpers: the broker of this test file (and its result backend when it is not the broker). */
export function pyEnv(brokerUrl: string, resultBackendUrl?: string): Record<string, string> {
  return {
    PYTHONPATH: PY_DIR,
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    CTL_BROKER_URL: brokerUrl,
    ...(resultBackendUrl !== undefined ? { CTL_RESULT_BACKEND: resultBackendUrl } : {}),
  };
}

export interface PyRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `/usr/bin/python3 <args>` in the helpers folder and collects its output. */
export function runPython(
  args: string[],
  brokerUrl: string,
  options: { input?: string; timeoutMs?: number; resultBackendUrl?: string } = {},
) {
  return new Promise<PyRun>((resolve, reject) => {
    const child = spawn(PYTHON, args, {
      cwd: PY_DIR,
      env: { ...process.env, ...pyEnv(brokerUrl, options.resultBackendUrl) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `mailbox_call.py`: the replies kombu's Mailbox collected. */
export async function mailboxCall(
  brokerUrl: string,
  method: string,
  args: Record<string, unknown> = {},
  options: { timeoutS?: number; destination?: string[] } = {},
): Promise<Array<Record<string, unknown>>> {
  const run = await runPython(
    [
      'mailbox_call.py',
      method,
      JSON.stringify(args),
      String(options.timeoutS ?? 1),
      (options.destination ?? []).join(','),
    ],
    brokerUrl,
  );
  if (run.code !== 0) throw new Error(`mailbox_call.py ${method} failed (${run.code}):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Array<Record<string, unknown>>;
}

/** A request as the fake worker holds it. */
export function request(id: string, name: string, args: unknown[], started: boolean): TaskRequestInfo {
  return {
    id,
    name,
    args,
    kwargs: {},
    timeStart: started ? 1795556001.555388 : null,
    acknowledged: started,
    deliveryInfo: { exchange: '', routingKey: 'celery', priority: 0, redelivered: null },
    workerPid: started ? process.pid : null,
  };
}

/** A small in-test worker: fixed state, and every lever call recorded. */
export class FakeTarget implements ControlTarget {
  readonly calls: Array<[string, ...unknown[]]> = [];
  activeList: TaskRequestInfo[] = [];
  reservedList: TaskRequestInfo[] = [];
  scheduledList: ScheduledRequestInfo[] = [];
  tasks: RegisteredTaskInfo[] = [
    { name: 'ctlapp.add', attributes: { rate_limit: null } },
    { name: 'ctlapp.mul', attributes: { rate_limit: '10/m' } },
    { name: 'celery.backend_cleanup' },
  ];
  queues = ['celery'];

  constructor(readonly hostname: string) {}

  active() {
    return this.activeList;
  }
  reserved() {
    return this.reservedList;
  }
  scheduled() {
    return this.scheduledList;
  }
  registered() {
    return this.tasks;
  }
  stats() {
    return { total: { 'ctlapp.add': 2 }, concurrency: 4, prefetchCount: 16 };
  }
  activeQueues() {
    return this.queues.map((name) => ({ name }));
  }
  conf(withDefaults: boolean) {
    return { broker_url: 'redis://127.0.0.1:6379/0', with_defaults: withDefaults };
  }
  queryTask(ids: string[]): QueriedTask[] {
    const active = this.activeList
      .filter((r) => ids.includes(r.id))
      .map((r) => ({ state: 'active' as const, request: r }));
    const reserved = this.reservedList
      .filter((r) => ids.includes(r.id))
      .map((r) => ({ state: 'reserved' as const, request: r }));
    return [...active, ...reserved];
  }
  /** When set, `report()` takes this long (to exercise the command deadline). */
  reportDelayMs = 0;
  async report() {
    if (this.reportDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.reportDelayMs));
    return 'software -> celeriac:0.1.0';
  }
  rateLimit(taskName: string, rateLimit: string | null): TaskSettingResult {
    this.calls.push(['rateLimit', taskName, rateLimit]);
    return this.tasks.some((t) => t.name === taskName) ? 'ok' : 'unknown_task';
  }
  timeLimit(taskName: string, soft: number | null, hard: number | null): TaskSettingResult {
    this.calls.push(['timeLimit', taskName, soft, hard]);
    return this.tasks.some((t) => t.name === taskName) ? 'ok' : 'unknown_task';
  }
  addConsumer(queue: string) {
    this.calls.push(['addConsumer', queue]);
    this.queues.push(queue);
  }
  cancelConsumer(queue: string) {
    this.calls.push(['cancelConsumer', queue]);
    this.queues = this.queues.filter((q) => q !== queue);
  }
  shutdown(reason: string) {
    this.calls.push(['shutdown', reason]);
  }
  revoke(ids: string[], options: { terminate: boolean; signal: string }) {
    this.calls.push(['revoke', ids, options]);
    return options.terminate ? ids.filter((id) => this.activeList.some((r) => r.id === id)) : [];
  }
}
