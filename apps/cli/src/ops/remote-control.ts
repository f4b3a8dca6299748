import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { KEY_PREFIX_OPTION, KEY_PREFIX_USAGE, keyPrefixFromArgs } from './broker-key-prefix.js';
import { CliUsageError, EXIT } from './cli-errors.js';
import { type OptionSpec, parseArgs, stringOption } from './parse-args.js';
import { reportError } from './report-error.js';

/** Celery's exit code when no node replied (EX_UNAVAILABLE). */
export const NO_REPLY_EXIT = 69;

const OPTIONS: OptionSpec[] = [
  { name: 'broker', short: 'b', value: true },
  { name: 'destination', short: 'd', value: true },
  { name: 'timeout', short: 't', value: true },
  { name: 'json', short: 'j', value: false },
  { name: 'help', short: 'h', value: false },
  KEY_PREFIX_OPTION,
];

const COMMON = `  -b, --broker <url>        broker (default: CELERIAC_BROKER_URL, else redis://127.0.0.1:6379/0)
  -d, --destination <a,b>   only these nodes (node names, comma separated)
  -t, --timeout <s>         how long to wait for replies (default 1)
  -j, --json                print the replies as JSON
${KEY_PREFIX_USAGE}`;

export const INSPECT_USAGE = `Usage: celeriac inspect <method> [args] [options]

Asks every worker, Celeriac and Python Celery alike, through Celery's pidbox (as celery inspect):
  ping, active, reserved, scheduled, registered, stats, active_queues, revoked, conf,
  query_task <id...>, report, counts (active and reserved per node, one line each)

${COMMON}
Exit codes: 0 ok, 2 usage, 69 no node replied.
`;

export const CONTROL_USAGE = `Usage: celeriac control <method> [args] [options]

Steers the workers through Celery's pidbox (as celery control):
  rate_limit <task> <rate>, time_limit <task> <soft> <hard>, add_consumer <queue> [exchange [type [routing_key]]],
  cancel_consumer <queue>, revoke <id...>, terminate <signal> <id...>, enable_events,
  disable_events, shutdown, heartbeat

${COMMON}
Exit codes: 0 ok, 2 usage, 69 no node replied.
`;

/** The replies Celery's CLI would print: `->  node: OK` and the value. */
export function formatReplies(replies: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const [node, reply] of Object.entries(replies)) {
    const failed = reply !== null && typeof reply === 'object' && 'error' in reply;
    lines.push(`->  ${node}: ${failed ? 'ERROR' : 'OK'}`);
    const value =
      reply !== null && typeof reply === 'object' && ('ok' in reply || 'error' in reply)
        ? ((reply as { ok?: unknown; error?: unknown }).ok ?? (reply as { error?: unknown }).error)
        : reply;
    if (Array.isArray(value)) {
      if (value.length === 0) lines.push('    - empty -');
      for (const item of value) lines.push(`    * ${typeof item === 'string' ? item : JSON.stringify(item)}`);
    } else {
      lines.push(`        ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  const n = Object.keys(replies).length;
  return `${lines.join('\n')}\n\n${n} node${n === 1 ? '' : 's'} online.\n`;
}

/** Builds the pidbox call of a `control` line. */
function controlCall(method: string, args: string[]): { command: string; arguments: Record<string, unknown> } {
  const need = (count: number, what: string) => {
    if (args.length < count) throw new CliUsageError(`control ${method} needs ${what}`);
  };
  switch (method) {
    case 'rate_limit':
      need(2, '<task> <rate>');
      return { command: method, arguments: { task_name: args[0], rate_limit: args[1] } };
    case 'time_limit':
      need(2, '<task> <soft> [<hard>]');
      return {
        command: method,
        arguments: { task_name: args[0], soft: Number(args[1]), hard: args[2] === undefined ? null : Number(args[2]) },
      };
    case 'add_consumer':
      need(1, '<queue>');
      return {
        command: method,
        // Celery's signature: <queue> [exchange [type [routing_key]]].
        arguments: {
          queue: args[0],
          exchange: args[1] ?? null,
          exchange_type: args[2] ?? 'direct',
          routing_key: args[3] ?? null,
        },
      };
    case 'cancel_consumer':
      need(1, '<queue>');
      return { command: method, arguments: { queue: args[0] } };
    case 'revoke':
      need(1, '<id...>');
      return { command: method, arguments: { task_id: args, terminate: false, signal: 'SIGTERM' } };
    case 'terminate':
      need(2, '<signal> <id...>');
      return { command: 'revoke', arguments: { task_id: args.slice(1), terminate: true, signal: args[0] } };
    case 'enable_events':
    case 'disable_events':
    case 'shutdown':
    case 'heartbeat':
      return { command: method, arguments: {} };
    default:
      throw new CliUsageError(`unknown control method ${method}; see celeriac control --help`);
  }
}

/** `celeriac inspect ...` / `celeriac control ...`. */
export async function runRemote(kind: 'inspect' | 'control', argv: string[]): Promise<number> {
  const usage = kind === 'inspect' ? INSPECT_USAGE : CONTROL_USAGE;
  let app: Celeriac | undefined;
  try {
    const parsed = parseArgs(argv, OPTIONS);
    if (parsed.options.help === true) {
      process.stdout.write(usage);
      return EXIT.ok;
    }
    const [method, ...rest] = parsed.positionals;
    if (method === undefined) throw new CliUsageError(`celeriac ${kind} needs a method`);
    const timeoutSec = Number(stringOption(parsed, 'timeout') ?? '1');
    if (!Number.isFinite(timeoutSec) || timeoutSec <= 0)
      throw new CliUsageError('--timeout must be a number of seconds > 0');
    const destination = stringOption(parsed, 'destination')
      ?.split(',')
      .filter((d) => d !== '');
    const broker = stringOption(parsed, 'broker') ?? process.env.CELERIAC_BROKER_URL ?? 'redis://127.0.0.1:6379/0';
    app = new Celeriac(
      'celeriac-cli',
      {
        broker_url: broker,
        broker_transport_options: { global_keyprefix: keyPrefixFromArgs(parsed) },
      },
      { logger: createLogger({ level: 'error', pretty: false }) },
    );
    const options = { timeoutMs: timeoutSec * 1000, ...(destination ? { destination } : {}) };
    let replies: Record<string, unknown>;
    if (kind === 'inspect') {
      const name = method === 'counts' ? 'active' : method;
      const args = method === 'query_task' ? { ids: rest } : method === 'conf' ? { with_defaults: false } : {};
      replies = Object.assign({}, ...(await app.control.broadcast(name, args, options)));
      if (method === 'counts') {
        const nodes = Object.keys(replies);
        const reserved = Object.assign(
          {},
          ...(await app.control.broadcast('reserved', {}, { ...options, destination: nodes, limit: nodes.length })),
        );
        replies = Object.fromEntries(
          nodes.map((n) => [n, { ok: `active ${listLength(replies[n])}, reserved ${listLength(reserved[n])}` }]),
        );
      }
    } else {
      const call = controlCall(method, rest);
      const reply = call.command !== 'shutdown';
      replies = Object.assign(
        {},
        ...(await app.control.broadcast(call.command, call.arguments, { ...options, reply })),
      );
    }
    if (Object.keys(replies).length === 0) {
      process.stderr.write('Error: No nodes replied within time constraint\n');
      return NO_REPLY_EXIT;
    }
    process.stdout.write(parsed.options.json === true ? `${JSON.stringify(replies)}\n` : formatReplies(replies));
    return EXIT.ok;
  } catch (error) {
    const code = reportError(`celeriac ${kind}`, error);
    if (error instanceof CliUsageError) process.stderr.write(`\n${usage}`);
    return code;
  } finally {
    await app?.close();
  }
}

function listLength(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}
