import { BrokerError, BrokerUnavailableError, type DeadLetterEntry, RedisBroker } from '@celeriac/broker';
import { raceTimeout, TIMED_OUT } from '@celeriac/common';
import { createLogger, redactUrl } from '@celeriac/logger';
import { parseRedisUrl, RedisUrlError } from '@celeriac/redis-connection/url';
import { KEY_PREFIX_OPTION, keyPrefixFromArgs } from '../ops/broker-key-prefix.js';
import { CliUsageError, EXIT } from '../ops/cli-errors.js';
import { type OptionSpec, type ParsedArgs, parseArgs, stringOption } from '../ops/parse-args.js';
import { reportError } from '../ops/report-error.js';
import { formatTable } from '../ops/table.js';

const DEFAULT_BROKER = 'redis://127.0.0.1:6379/0';

export const DEAD_LETTER_USAGE = `Usage: celeriac dead-letter <list | show <n> | requeue <n|--all> | purge --yes> [options]

Looks at and replays the dead-letter list (celeriac.dead-letter): messages a worker refused
(malformed, unknown content type...) or that killed their workers more than
celeriac_redelivery_limit times. Index 0 is the newest record; indexes are those of the moment.

  list                 a table: index, time, reason, queue, task name and id, size
  show <n>             the record at index n, as JSON
  requeue <n>          publish record n again onto its queue and remove it
  requeue --all        the same for every record, oldest first (truncated ones stay)
  purge --yes          delete every record

  -b, --broker <url>   broker (default: CELERIAC_BROKER_URL, else ${DEFAULT_BROKER})
      --offset <n>     list: first index shown (default 0)
      --limit <n>      list: most records shown (default 50)
      --all            requeue: every record
      --yes            purge: really delete
      --key-prefix <p> broker_transport_options.global_keyprefix of the workers
                       (default: CELERIAC_BROKER_KEY_PREFIX, else none)
  -h, --help           this text

Exit codes: 0 ok, 1 other error (broker unreachable, no such record...), 2 usage.
`;

const OPTIONS: OptionSpec[] = [
  { name: 'broker', short: 'b', value: true },
  { name: 'offset', value: true },
  { name: 'limit', value: true },
  { name: 'all', value: false },
  { name: 'yes', short: 'y', value: false },
  { name: 'help', short: 'h', value: false },
  KEY_PREFIX_OPTION,
];

/** Connection attempts give up after this long (ioredis retries meanwhile). */
const CONNECT_TIMEOUT_MS = 10_000;

function indexArg(text: string | undefined, what: string): number {
  if (text === undefined) throw new CliUsageError(`${what} needs an index (0 = newest)`);
  if (!/^\d+$/.test(text)) throw new CliUsageError(`${what}: index must be a whole number >= 0, not "${text}"`);
  return Number(text);
}

function numberOption(args: ParsedArgs, name: string, fallback: number, min: number): number {
  const text = stringOption(args, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new CliUsageError(`--${name} must be a whole number >= ${min}`);
  return Number(text);
}

/** "1.2 KiB" */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** The `list` table. */
export function formatDeadLetters(entries: readonly DeadLetterEntry[]): string {
  const rows = entries.map(({ index, record, unreadable }) =>
    record
      ? [
          String(index),
          record.at,
          clip(record.reason, 60),
          record.queue,
          `${record.task ?? '-'} ${record.task_id ?? '-'}`,
          `${formatBytes(record.raw_bytes)}${record.raw_truncated ? ' (truncated)' : ''}`,
        ]
      : [String(index), '-', 'unreadable record', '-', '-', formatBytes(Buffer.byteLength(unreadable ?? ''))],
  );
  return formatTable(['INDEX', 'TIME', 'REASON', 'QUEUE', 'TASK', 'SIZE'], rows);
}

/** What a command line asks for, checked before connecting. */
type Action =
  | { kind: 'list'; offset: number; limit: number }
  | { kind: 'show'; index: number }
  | { kind: 'requeue'; index: number | 'all' }
  | { kind: 'purge' };

function actionOf(args: ParsedArgs): Action {
  const [sub, ...rest] = args.positionals;
  const extra = (allowed: number) => {
    if (rest.length > allowed) throw new CliUsageError(`unexpected argument: ${rest.slice(allowed).join(' ')}`);
  };
  switch (sub) {
    case 'list':
      extra(0);
      return { kind: 'list', offset: numberOption(args, 'offset', 0, 0), limit: numberOption(args, 'limit', 50, 1) };
    case 'show':
      extra(1);
      return { kind: 'show', index: indexArg(rest[0], 'show') };
    case 'requeue':
      extra(1);
      if (args.options.all === true) {
        if (rest.length > 0) throw new CliUsageError('requeue takes an index or --all, not both');
        return { kind: 'requeue', index: 'all' };
      }
      return { kind: 'requeue', index: indexArg(rest[0], 'requeue') };
    case 'purge':
      extra(0);
      if (args.options.yes !== true) throw new CliUsageError('purge deletes every record: add --yes to confirm');
      return { kind: 'purge' };
    case undefined:
      throw new CliUsageError('celeriac dead-letter needs a sub-command: list, show, requeue or purge');
    default:
      throw new CliUsageError(`unknown sub-command ${sub}`);
  }
}

async function perform(broker: RedisBroker, action: Action, url: string): Promise<void> {
  const list = broker.deadLetters;
  switch (action.kind) {
    case 'list': {
      const [total, entries] = await Promise.all([list.length(), list.list(action.offset, action.limit)]);
      if (total === 0) {
        process.stdout.write(`the dead-letter list is empty (${redactUrl(url)})\n`);
        return;
      }
      process.stdout.write(formatDeadLetters(entries));
      const last = action.offset + entries.length;
      process.stdout.write(
        `${entries.length} shown (${action.offset}..${Math.max(action.offset, last - 1)}) of ${total}\n`,
      );
      return;
    }
    case 'show':
      process.stdout.write(`${JSON.stringify(await list.show(action.index), null, 2)}\n`);
      return;
    case 'requeue': {
      const { requeued, kept } = await list.requeue(action.index);
      process.stdout.write(`requeued ${requeued}${kept > 0 ? `, kept ${kept} (truncated or unreadable)` : ''}\n`);
      return;
    }
    case 'purge':
      process.stdout.write(`purged ${await list.purge()}\n`);
  }
}

/** `celeriac dead-letter ...`: list, show, requeue and purge the dead-letter list. */
export async function run(argv: string[]): Promise<number> {
  let broker: RedisBroker | undefined;
  try {
    const args = parseArgs(argv, OPTIONS);
    if (args.options.help === true) {
      process.stdout.write(DEAD_LETTER_USAGE);
      return EXIT.ok;
    }
    const action = actionOf(args);
    const url = stringOption(args, 'broker') ?? process.env.CELERIAC_BROKER_URL ?? DEFAULT_BROKER;
    try {
      parseRedisUrl(url, { setting: '--broker' });
    } catch (error) {
      if (error instanceof RedisUrlError) throw new CliUsageError(error.message);
      throw error;
    }
    const logger = createLogger({ level: 'silent', pretty: false });
    broker = new RedisBroker({ url, logger, transport: { globalKeyPrefix: keyPrefixFromArgs(args) } });
    if ((await raceTimeout(broker.start(), CONNECT_TIMEOUT_MS)) === TIMED_OUT) {
      throw new BrokerUnavailableError(url, 'start', new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
    }
    await perform(broker, action, url);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof BrokerError) {
      process.stderr.write(`celeriac dead-letter: ${redactUrl(error.message)} [${error.code}]\n`);
      return EXIT.other;
    }
    const code = reportError('celeriac dead-letter', error);
    if (error instanceof CliUsageError) process.stderr.write(`\n${DEAD_LETTER_USAGE}`);
    return code;
  } finally {
    await broker?.close().catch(() => undefined);
  }
}
