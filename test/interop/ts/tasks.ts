// The celeriac twin of test/interop/py/pytasks.py: the same task names and behaviour, so either
// language's worker can serve either language's client. Loaded by `celeriac worker -A`.
//
//   CELERIAC_INTEROP_CONFIG  JSON object of Celery settings (broker_url, result_backend, ...)
//   INTEROP_RECORD_URL       Redis URL for tasks.record / tasks.order (defaults to broker_url)
//   INTEROP_WORKER_TAG       what tasks.record returns (default "celeriac")
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

interface Context {
  id: string;
  retries: number;
  args: unknown[];
  kwargs: Record<string, unknown>;
  retry(options?: { countdown?: number }): never;
}

const settings = JSON.parse(process.env.CELERIAC_INTEROP_CONFIG ?? '{}') as Record<string, unknown>;

export const app = new Celeriac('tasks', {
  task_serializer: 'json',
  result_serializer: 'json',
  accept_content: ['json', 'msgpack'],
  ...settings,
});

let recordClient: Redis | undefined;

/** One Redis connection for the bookkeeping tasks; its socket never keeps the process alive. */
function records(): Redis {
  if (!recordClient) {
    const url = process.env.INTEROP_RECORD_URL ?? String(app.conf.settings.broker_url);
    recordClient = new Redis(url, { lazyConnect: false });
    recordClient.on('connect', () => {
      (recordClient as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();
    });
  }
  return recordClient;
}

/** A Python builtin by name: a Python caller's `get()` raises `ValueError('bad value', 42)`. */
export class ValueError extends Error {
  readonly args: unknown[];
  constructor(...args: unknown[]) {
    super(String(args[0] ?? ''));
    this.name = 'ValueError';
    this.args = args;
  }
}

/** A class Python cannot import: the reader synthesizes an exception class of the same name. */
export class InteropError extends Error {
  readonly args: unknown[];
  constructor(...args: unknown[]) {
    super(String(args[0] ?? ''));
    this.name = 'InteropError';
    this.args = args;
  }
}

app.task('tasks.add', (a: number, b: number) => a + b, { params: ['a', 'b'] });
app.task('tasks.mul', (a: number, b: number) => a * b, { params: ['a', 'b'] });
app.task('tasks.noop', () => null);
app.task('tasks.echo', (value: unknown) => value, { params: ['value'] });
app.task('tasks.echo_kwargs', (ctx: Context) => ({ args: ctx.args, kwargs: ctx.kwargs }), { bind: true });
app.task('tasks.fail', () => {
  throw new ValueError('bad value', 42);
});
app.task(
  'tasks.fail_custom',
  (message = 'custom failure') => {
    throw new InteropError(message, 7);
  },
  { params: ['message'] },
);
app.task(
  'tasks.sleep',
  async (seconds: number) => {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    return seconds;
  },
  { params: ['seconds'] },
);
app.task('tasks.stamp', () => Date.now() / 1000);
app.task(
  'tasks.retry_until',
  (ctx: Context, times: number, countdown = 0.5) => {
    if (ctx.retries < times) ctx.retry({ countdown });
    return ctx.retries;
  },
  { bind: true, params: ['times', 'countdown'], max_retries: 5 },
);
app.task(
  'tasks.record',
  async (ctx: Context) => {
    await records().hincrby('interop.runs', ctx.id, 1);
    return process.env.INTEROP_WORKER_TAG ?? 'celeriac';
  },
  { bind: true, params: ['tag'] },
);
app.task(
  'tasks.record_sleep',
  async (ctx: Context, seconds: number) => {
    await records().hincrby('interop.runs', ctx.id, 1);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    return process.env.INTEROP_WORKER_TAG ?? 'celeriac';
  },
  { bind: true, params: ['seconds'] },
);
app.task(
  'tasks.order',
  async (tag: string) => {
    await records().rpush('interop.order', tag);
    return tag;
  },
  { params: ['tag'] },
);
app.task(
  'tasks.request_info',
  (ctx: Context & { rootId: string | null; parentId: string | null }) => ({
    id: ctx.id,
    retries: ctx.retries,
    root_id: ctx.rootId,
    parent_id: ctx.parentId,
  }),
  { bind: true },
);
