import { pyRepr, pyReprTuple } from '@celeriac/protocol';
import { parseRedisUrl, type RedisTarget } from '@celeriac/redis-connection/url';
import type {
  ActiveQueueInfo,
  RegisteredTaskInfo,
  ScheduledRequestInfo,
  TaskRequestInfo,
  WorkerStatsInfo,
} from './control-target.js';
import { pyFloat } from './py-json.js';

/**
 * Pure functions that turn the target's data into the exact shapes celery/worker/control.py
 * replies with, so `celery inspect` prints a Celeriac node like a Python one.
 */

export const ok = (value: unknown) => ({ ok: value });
export const nok = (value: unknown) => ({ error: value });

/** Python's `repr(exc)`: `KeyError('x')`, `ValueError("could not convert string to float: 'a'")`. */
export function pyExceptionRepr(name: string, message: string): string {
  return `${name}(${pyRepr(message, Number.MAX_SAFE_INTEGER)})`;
}

/** `repr()` of any thrown value, named after the JS error class. */
export function thrownRepr(err: unknown): string {
  if (err instanceof Error) return pyExceptionRepr(err.name || 'Error', err.message);
  return pyExceptionRepr('Exception', String(err));
}

/** Celery's `Request.info(safe)` dict. */
export function requestInfoDict(info: TaskRequestInfo, hostname: string, safe = false): Record<string, unknown> {
  return {
    id: info.id,
    name: info.name,
    args: safe ? (info.argsrepr ?? pyReprTuple(info.args)) : info.args,
    kwargs: safe ? (info.kwargsrepr ?? pyRepr(info.kwargs)) : info.kwargs,
    type: info.type ?? info.name,
    hostname,
    time_start: info.timeStart === null ? null : pyFloat(info.timeStart),
    acknowledged: info.acknowledged,
    delivery_info: {
      exchange: info.deliveryInfo.exchange,
      routing_key: info.deliveryInfo.routingKey,
      priority: info.deliveryInfo.priority,
      redelivered: info.deliveryInfo.redelivered,
    },
    worker_pid: info.workerPid,
  };
}

/** One entry of `inspect scheduled`. */
export function scheduledDict(entry: ScheduledRequestInfo, hostname: string): Record<string, unknown> {
  return { eta: entry.eta, priority: entry.priority, request: requestInfoDict(entry.request, hostname) };
}

/** kombu's `Queue.as_dict(recurse=True)` for a plain direct queue (`inspect active_queues`). */
export function queueDict(queue: ActiveQueueInfo): Record<string, unknown> {
  const exchange = queue.exchange ?? queue.name;
  return {
    name: queue.name,
    exchange: {
      name: exchange,
      type: queue.exchangeType ?? 'direct',
      arguments: null,
      durable: true,
      passive: false,
      auto_delete: false,
      delivery_mode: null,
      no_declare: false,
    },
    routing_key: queue.routingKey ?? queue.name,
    queue_arguments: null,
    binding_arguments: null,
    consumer_arguments: null,
    durable: true,
    exclusive: false,
    auto_delete: false,
    no_ack: false,
    alias: null,
    bindings: [],
    no_declare: null,
    expires: null,
    message_ttl: null,
    max_length: null,
    max_length_bytes: null,
    max_priority: null,
  };
}

const DEFAULT_TASK_INFO_ITEMS = ['exchange', 'routing_key', 'rate_limit'];

/** Python's `str()` of an attribute value, as `registered` prints `name [rate_limit=10/m]`. */
function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return pyRepr(value);
}

/** `inspect registered`: sorted names, `celery.*` left out unless `builtins`, with the requested attributes. */
export function registeredList(tasks: RegisteredTaskInfo[], taskinfoitems: unknown, builtins: boolean): string[] {
  const items =
    Array.isArray(taskinfoitems) && taskinfoitems.length > 0 ? taskinfoitems.map(String) : DEFAULT_TASK_INFO_ITEMS;
  return tasks
    .filter((task) => builtins || !task.name.startsWith('celery.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((task) => {
      const fields = items
        .map((field) => [field, task.attributes?.[field]] as const)
        .filter(([, value]) => value !== null && value !== undefined)
        .map(([field, value]) => `${field}=${pyStr(value)}`);
      return fields.length > 0 ? `${task.name} [${fields.join(' ')}]` : task.name;
    });
}

export interface StatsContext {
  clock: number;
  uptimeSeconds: number;
  brokerUrl: string;
}

/** The `broker` section of `inspect stats` for a RabbitMQ URL (kombu's pyamqp `Connection.info()`), never the password. */
function amqpBrokerInfo(url: URL): Record<string, unknown> {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const ssl = scheme === 'amqps';
  return {
    hostname: url.hostname || 'localhost',
    userid: url.username ? decodeURIComponent(url.username) : 'guest',
    virtual_host: decodeURIComponent(url.pathname.slice(1)) || '/',
    port: url.port ? Number(url.port) : ssl ? 5671 : 5672,
    insist: false,
    ssl,
    transport: scheme === 'pyamqp' ? 'pyamqp' : 'amqp',
    connect_timeout: 4,
    transport_options: {},
    login_method: 'PLAIN',
    uri_prefix: null,
    heartbeat: pyFloat(120),
    failover_strategy: 'round-robin',
    alternates: [],
  };
}

/** The `broker` section of `inspect stats`: kombu's `Connection.info()`, never the password. */
export function brokerInfo(url: string): Record<string, unknown> {
  if (/^(amqp|amqps|pyamqp):\/\//i.test(url)) {
    try {
      // kombu's failover list `amqp://a;amqp://b`: info() describes the first.
      return amqpBrokerInfo(new URL(url.split(';')[0]!.trim()));
    } catch {
      // not a URL after all: the Redis reading below reports what it can
    }
  }
  let target: RedisTarget | undefined;
  try {
    target = parseRedisUrl(url);
  } catch {
    target = undefined;
  }
  const first = target?.kind === 'sentinel' ? target.sentinels[0] : target?.kind === 'tcp' ? target : undefined;
  return {
    hostname: target?.kind === 'socket' ? `socket://${target.path}` : (first?.host ?? null),
    userid: target?.username ?? null,
    virtual_host: String(target?.db ?? 0),
    port: first?.port ?? 6379,
    insist: false,
    ssl: target !== undefined && 'tls' in target && target.tls !== null && target.tls !== undefined,
    transport: target?.kind === 'sentinel' ? 'sentinel' : 'redis',
    connect_timeout: 4,
    transport_options: {},
    login_method: null,
    uri_prefix: null,
    heartbeat: pyFloat(120),
    failover_strategy: 'round-robin',
    alternates: [],
  };
}

/** `resource.getrusage(RUSAGE_SELF)` as Celery reports it (times in seconds, sizes in KiB). */
export function rusage(): Record<string, unknown> {
  const r = process.resourceUsage();
  return {
    utime: pyFloat(r.userCPUTime / 1e6),
    stime: pyFloat(r.systemCPUTime / 1e6),
    maxrss: r.maxRSS,
    ixrss: r.sharedMemorySize,
    idrss: r.unsharedDataSize,
    isrss: r.unsharedStackSize,
    minflt: r.minorPageFault,
    majflt: r.majorPageFault,
    nswap: r.swappedOut,
    inblock: r.fsRead,
    oublock: r.fsWrite,
    msgsnd: r.ipcSent,
    msgrcv: r.ipcReceived,
    nsignals: r.signalsCount,
    nvcsw: r.voluntaryContextSwitches,
    nivcsw: r.involuntaryContextSwitches,
  };
}

/** `inspect stats`, keys in Celery's order (`clock` is a string there). */
export function statsDict(info: WorkerStatsInfo, ctx: StatsContext): Record<string, unknown> {
  return {
    total: info.total,
    pid: process.pid,
    clock: String(ctx.clock),
    uptime: Math.floor(ctx.uptimeSeconds),
    pool: {
      'max-concurrency': info.concurrency,
      processes: info.processes ?? [process.pid],
      'max-tasks-per-child': info.maxTasksPerChild ?? null,
      'put-guarded-by-semaphore': false,
      timeouts: [],
    },
    broker: brokerInfo(ctx.brokerUrl),
    prefetch_count: info.prefetchCount,
    rusage: rusage(),
    ...info.extra,
  };
}

const PY_FLOAT_RE =
  /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.|inf(?:inity)?|nan)$/i;
const RATE_UNITS = new Set(['s', 'm', 'h']);

/**
 * celery.utils.time.rate() as `control rate_limit` applies it: the reply Celery gives for a bad
 * string (`{'error': "KeyError('x')"}`, `{'error': 'Invalid rate limit string: ValueError(...)'}`),
 * or the value to set (null = no limit).
 */
export function checkRateLimit(value: unknown): { ok: true; rate: string | null } | { ok: false; reply: unknown } {
  if (value === null || value === undefined || value === '' || value === 0 || value === false) {
    return { ok: true, rate: null };
  }
  if (typeof value === 'number') return { ok: true, rate: String(value) };
  if (typeof value !== 'string') return { ok: true, rate: String(value) };
  const slash = value.indexOf('/');
  const amount = slash === -1 ? value : value.slice(0, slash);
  const unit = slash === -1 ? '' : value.slice(slash + 1);
  // Python looks the unit up before it parses the number, and only a ValueError is caught as "Invalid".
  if (unit !== '' && !RATE_UNITS.has(unit)) {
    return { ok: false, reply: nok(pyExceptionRepr('KeyError', unit)) };
  }
  if (!PY_FLOAT_RE.test(amount.trim())) {
    const exc = pyExceptionRepr('ValueError', `could not convert string to float: ${pyRepr(amount)}`);
    return { ok: false, reply: nok(`Invalid rate limit string: ${exc}`) };
  }
  return { ok: true, rate: value };
}
