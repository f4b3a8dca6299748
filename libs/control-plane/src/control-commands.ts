import { constants } from 'node:os';
import type { Logger } from '@celeriac/logger';
import {
  checkRateLimit,
  nok,
  ok,
  pyExceptionRepr,
  queueDict,
  registeredList,
  requestInfoDict,
  scheduledDict,
  statsDict,
} from './control-replies.js';
import type { ControlTarget } from './control-target.js';
import type { EventDispatcher } from './event-dispatcher.js';
import type { LamportClock } from './lamport-clock.js';
import { pyTruthy } from './py-truthy.js';
import type { RevokedSet } from './revoked-set.js';
import type { WorkerHeart } from './worker-heart.js';

/** What a command handler may use. */
export interface CommandContext {
  target: ControlTarget;
  clock: LamportClock;
  revoked: RevokedSet;
  events: EventDispatcher | undefined;
  heart: WorkerHeart | undefined;
  logger: Logger;
  startedAt: number;
  brokerUrl: string;
}

/** A handler's result when Celery sends no reply at all (`shutdown` raises SystemExit). */
export const NO_REPLY: unique symbol = Symbol('no reply');

type Args = Record<string, unknown>;
type Handler = (ctx: CommandContext, args: Args) => unknown;

/** Required arguments of each command, by Celery's handler name (Python raises TypeError without them). */
const REQUIRED_ARGS: Record<string, string[]> = {
  query_task: ['ids'],
  hello: ['from_node'],
  revoke: ['task_id'],
  terminate: ['signal', 'task_id'],
  rate_limit: ['task_name', 'rate_limit'],
  election: ['id', 'topic'],
  add_consumer: ['queue'],
  cancel_consumer: ['queue'],
};

/** Python's TypeError reply for missing positional arguments of `fn`, or undefined when none is missing. */
function missingArgsReply(fn: string, args: Args): unknown {
  const missing = (REQUIRED_ARGS[fn] ?? []).filter((name) => !(name in args));
  if (missing.length === 0) return undefined;
  const quoted = missing.map((m) => `'${m}'`);
  const list =
    quoted.length === 1
      ? quoted[0]
      : `${quoted.slice(0, -1).join(', ')}${quoted.length > 2 ? ',' : ''} and ${quoted.at(-1)}`;
  const noun = missing.length === 1 ? 'argument' : 'arguments';
  return nok(pyExceptionRepr('TypeError', `${fn}() missing ${missing.length} required positional ${noun}: ${list}`));
}

const asIds = (value: unknown): string[] => [
  ...new Set((Array.isArray(value) ? value : value === null || value === undefined ? [] : [value]).map(String)),
];

const asNumberOrNull = (value: unknown): number | null =>
  value === null || value === undefined || value === '' ? null : Number(value);

/** Celery's `signals.signum()`: `'KILL'`, `'SIGKILL'` and `9` all become `'SIGKILL'`; undefined when unknown. */
export function signalName(value: unknown): string | undefined {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) {
    const num = Number(value);
    return Object.entries(constants.signals).find(([, n]) => n === num)?.[0];
  }
  const text = typeof value === 'string' && value !== '' ? value : 'SIGTERM';
  const name = text.startsWith('SIG') ? text : `SIG${text}`;
  return name in constants.signals ? name : undefined;
}

async function revoke(ctx: CommandContext, args: Args): Promise<unknown> {
  const ids = asIds(args.task_id);
  // Memory is updated at once; a failed write of the shared set must not stop the revoke here.
  await ctx.revoked.add(ids).catch((err: unknown) => {
    ctx.logger.warn({ event: 'control.revoked_store_failed', task_ids: ids, err }, 'could not store revoked ids');
  });
  const terminate = pyTruthy(args.terminate);
  const signal = signalName(args.signal);
  if (signal === undefined) return nok(pyExceptionRepr('ValueError', `unknown signal ${String(args.signal)}`));
  ctx.logger.info(
    { event: 'control.revoked', task_ids: ids, terminate, signal },
    terminate ? 'tasks revoked, terminating' : 'tasks flagged as revoked',
  );
  const terminated = await ctx.target.revoke(ids, { terminate, signal });
  if (!terminate) return ok(`tasks ${ids.join(', ')} flagged as revoked`);
  return terminated.length === 0 ? ok('terminate: tasks unknown') : ok(`terminate: ${terminated.join(', ')}`);
}

function humanBytes(n: number): string {
  const units: Array<[number, string]> = [
    [2 ** 40, 'TB'],
    [2 ** 30, 'GB'],
    [2 ** 20, 'MB'],
    [2 ** 10, 'KB'],
    [0, 'b'],
  ];
  const [div, unit] = units.find(([d]) => n >= d) ?? [0, 'b'];
  const value = div ? n / div : n;
  return `${Number.isInteger(value) ? value : Number(value.toPrecision(5))}${unit}`;
}

/**
 * The `n` of pool_grow / pool_shrink (1 when absent). Celery's CLI and Flower send an int; any other
 * type is refused by what it was (`Number('x')` would reach the pool as NaN).
 */
function slotCount(command: string, value: unknown): number {
  if (value === undefined || value === null) return 1;
  if (typeof value === 'number') return value;
  throw new TypeError(`${command} takes a whole number of slots, got ${JSON.stringify(value)}`);
}

const inspectHandlers: Record<string, Handler> = {
  ping: () => ok('pong'),
  clock: (ctx) => ({ clock: ctx.clock.value }),
  report: async (ctx) => ok(await ctx.target.report()),
  conf: async (ctx, args) => ctx.target.conf(pyTruthy(args.with_defaults)),
  query_task: async (ctx, args) => {
    const found = await ctx.target.queryTask(asIds(args.ids));
    const host = ctx.target.hostname;
    return Object.fromEntries(found.map((t) => [t.request.id, [t.state, requestInfoDict(t.request, host)]]));
  },
  stats: async (ctx) =>
    statsDict(await ctx.target.stats(), {
      clock: ctx.clock.value,
      uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
      brokerUrl: ctx.brokerUrl,
    }),
  scheduled: async (ctx) => (await ctx.target.scheduled()).map((s) => scheduledDict(s, ctx.target.hostname)),
  reserved: async (ctx) => (await ctx.target.reserved()).map((r) => requestInfoDict(r, ctx.target.hostname)),
  active: async (ctx, args) =>
    (await ctx.target.active()).map((r) => requestInfoDict(r, ctx.target.hostname, pyTruthy(args.safe))),
  revoked: (ctx) => ctx.revoked.ids(),
  registered: async (ctx, args) =>
    registeredList(await ctx.target.registered(), args.taskinfoitems, pyTruthy(args.builtins)),
  active_queues: async (ctx) => (await ctx.target.activeQueues()).map(queueDict),
  hello: async (ctx, args) => {
    if (args.from_node === ctx.target.hostname) return null;
    ctx.logger.info({ event: 'control.mingle_sync', from_node: args.from_node }, 'sync with a starting node');
    await ctx.revoked.mergeMingle(args.revoked);
    return { revoked: ctx.revoked.mingleEntries(), clock: ctx.clock.forward() };
  },
  memsample: () => humanBytes(process.memoryUsage().rss),
  memdump: () => `- rss: ${humanBytes(process.memoryUsage().rss)}\n`,
  objgraph: () => nok(pyExceptionRepr('ImportError', 'Requires the objgraph library')),
};

const controlHandlers: Record<string, Handler> = {
  revoke: (ctx, args) => revoke(ctx, args),
  terminate: (ctx, args) => revoke(ctx, { ...args, terminate: true }),
  rate_limit: async (ctx, args) => {
    const checked = checkRateLimit(args.rate_limit);
    if (!checked.ok) return checked.reply;
    const task = String(args.task_name);
    if ((await ctx.target.rateLimit(task, checked.rate)) === 'unknown_task') {
      ctx.logger.error({ event: 'control.rate_limit_unknown_task', task_name: task }, 'rate limit for an unknown task');
      return nok('unknown task');
    }
    ctx.logger.info({ event: 'control.rate_limit_set', task_name: task, rate_limit: checked.rate }, 'rate limit set');
    return checked.rate === null ? ok('rate limit disabled successfully') : ok('new rate limit set successfully');
  },
  time_limit: async (ctx, args) => {
    const task = String(args.task_name ?? 'None');
    const soft = asNumberOrNull(args.soft);
    const hard = asNumberOrNull(args.hard);
    if ((await ctx.target.timeLimit(task, soft, hard)) === 'unknown_task') return nok('unknown task');
    ctx.logger.info({ event: 'control.time_limit_set', task_name: task, soft, hard }, 'time limits set');
    return ok('time limits set successfully');
  },
  // Gossip elections are not joined (see README): reply as a Python node without gossip does.
  election: () => null,
  enable_events: (ctx) => {
    if (!ctx.events) return nok('task events are not available on this node');
    return ok(ctx.events.enableTaskEvents() ? 'task events enabled' : 'task events already enabled');
  },
  disable_events: (ctx) => {
    if (!ctx.events) return nok('task events are not available on this node');
    return ok(ctx.events.disableTaskEvents() ? 'task events disabled' : 'task events already disabled');
  },
  heartbeat: async (ctx) => {
    await ctx.heart?.beat();
    return null;
  },
  pool_grow: async (ctx, args) => {
    if (!ctx.target.poolGrow) return nok(pyExceptionRepr('NotImplementedError', 'pool_grow is not supported here'));
    await ctx.target.poolGrow(slotCount('pool_grow', args.n));
    return ok('pool will grow');
  },
  pool_shrink: async (ctx, args) => {
    if (!ctx.target.poolShrink) return nok(pyExceptionRepr('NotImplementedError', 'pool_shrink is not supported here'));
    await ctx.target.poolShrink(slotCount('pool_shrink', args.n));
    return ok('pool will shrink');
  },
  pool_restart: () => nok(pyExceptionRepr('ValueError', 'Pool restarts not enabled')),
  autoscale: () => nok(pyExceptionRepr('ValueError', 'Autoscale not enabled')),
  shutdown: (ctx, args) => {
    const reason = typeof args.msg === 'string' ? args.msg : 'Got shutdown from remote';
    ctx.logger.warn({ event: 'control.shutdown_requested', reason }, reason);
    ctx.target.shutdown(reason);
    return NO_REPLY;
  },
  add_consumer: async (ctx, args) => {
    const queue = String(args.queue);
    await ctx.target.addConsumer(queue, {
      exchange: typeof args.exchange === 'string' ? args.exchange : null,
      exchangeType: typeof args.exchange_type === 'string' ? args.exchange_type : 'direct',
      routingKey: typeof args.routing_key === 'string' ? args.routing_key : null,
    });
    return ok(`add consumer ${queue}`);
  },
  cancel_consumer: async (ctx, args) => {
    const queue = String(args.queue);
    await ctx.target.cancelConsumer(queue);
    return ok(`no longer consuming from ${queue}`);
  },
};

const ALIASES: Record<string, string> = {
  dump_conf: 'conf',
  dump_schedule: 'scheduled',
  dump_reserved: 'reserved',
  dump_active: 'active',
  dump_revoked: 'revoked',
  dump_tasks: 'registered',
};

/** Every command name a Celeriac node answers, aliases included. */
export const COMMAND_NAMES: readonly string[] = [
  ...Object.keys(inspectHandlers),
  ...Object.keys(controlHandlers),
  ...Object.keys(ALIASES),
];

/** The handler of a command name, or undefined (Celery then replies `{'error': "KeyError('name')"}`). */
export function commandHandler(method: string): Handler | undefined {
  const name = ALIASES[method] ?? method;
  const handler = Object.hasOwn(inspectHandlers, name)
    ? inspectHandlers[name]
    : Object.hasOwn(controlHandlers, name)
      ? controlHandlers[name]
      : undefined;
  if (handler === undefined) return undefined;
  return (ctx, args) => missingArgsReply(name, args) ?? handler(ctx, args);
}
