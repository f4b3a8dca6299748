import { BrokerError, BrokerUnavailableError, type DeadLetterEntry, RedisBroker } from '@celeriac/broker';
import { AmqpDeadLetterStore, AmqpError, isAmqpUrl } from '@celeriac/broker-amqp';
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
On Redis it is a list; on RabbitMQ (amqp://, amqps://) the durable queue celeriac.dead-letter,
read by taking every record unacked and giving back what stays, each at its place (a second
dead-letter command at the same time sees only records that arrived meanwhile).

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
      --key-prefix <p> Redis: broker_transport_options.global_keyprefix of the workers
                       (default: CELERIAC_BROKER_KEY_PREFIX, else none)
      --broker-use-ssl <json>
                       RabbitMQ: the workers' broker_use_ssl, e.g. '{"ca_certs": "/etc/ca.pem"}'
                       (ca_certs, certfile, keyfile, cert_reqs, server_hostname; default:
                       CELERIAC_BROKER_USE_SSL, else TLS for amqps:// with the system CAs)
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
  { name: 'broker-use-ssl', value: true },
  KEY_PREFIX_OPTION,
];

/** What the sub-commands do, on either broker (index 0 = the newest record). */
interface DeadLetterStore {
  page(offset: number, count: number): Promise<{ total: number; entries: DeadLetterEntry[] }>;
  show(index: number): Promise<DeadLetterEntry>;
  requeue(index: number | 'all'): Promise<{ requeued: number; kept: number }>;
  purge(): Promise<number>;
  close(): Promise<void>;
}

/** The Redis broker's dead-letter list as a `DeadLetterStore`. */
function redisStore(broker: RedisBroker): DeadLetterStore {
  const list = broker.deadLetters;
  return {
    page: async (offset, count) => {
      const [total, entries] = await Promise.all([list.length(), list.list(offset, count)]);
      return { total, entries };
    },
    show: (index) => list.show(index),
    requeue: (index) => list.requeue(index),
    purge: () => list.purge(),
    close: () => broker.close(),
  };
}

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

async function perform(list: DeadLetterStore, action: Action, url: string): Promise<void> {
  switch (action.kind) {
    case 'list': {
      const { total, entries } = await list.page(action.offset, action.limit);
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

/** `--broker-use-ssl` (or CELERIAC_BROKER_USE_SSL) read as JSON; undefined when not given. */
function useSslOf(args: ParsedArgs): unknown {
  const text = stringOption(args, 'broker-use-ssl') ?? process.env.CELERIAC_BROKER_USE_SSL;
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliUsageError(
      `--broker-use-ssl must be JSON (true, false or a dict such as '{"ca_certs": "/etc/ca.pem"}'), got ${text}`,
    );
  }
}

/** The RabbitMQ store for `url`; the options that belong to Redis are refused, not ignored. */
async function amqpStore(url: string, args: ParsedArgs): Promise<DeadLetterStore> {
  const prefix = keyPrefixFromArgs(args);
  if (prefix !== '') {
    throw new CliUsageError(
      `--key-prefix (or CELERIAC_BROKER_KEY_PREFIX) is global_keyprefix of kombu's Redis transport; RabbitMQ has none, and the broker is ${redactUrl(url)}`,
    );
  }
  const useSsl = useSslOf(args);
  let store: AmqpDeadLetterStore;
  try {
    store = new AmqpDeadLetterStore({ url, settings: useSsl === undefined ? {} : { broker_use_ssl: useSsl } });
  } catch (error) {
    if (error instanceof AmqpError && error.code === 'AMQP_URL_INVALID') {
      throw new CliUsageError(error.message.replace(/^broker_use_ssl/, '--broker-use-ssl'));
    }
    throw error;
  }
  if ((await raceTimeout(store.start(), CONNECT_TIMEOUT_MS)) === TIMED_OUT) {
    await store.close();
    throw new BrokerError(
      'BROKER_UNAVAILABLE',
      `dead-letter connect failed: RabbitMQ at ${redactUrl(url)} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`,
    );
  }
  return store;
}

/** `celeriac dead-letter ...`: list, show, requeue and purge the dead-letter list (Redis or RabbitMQ). */
export async function run(argv: string[]): Promise<number> {
  let store: DeadLetterStore | undefined;
  try {
    const args = parseArgs(argv, OPTIONS);
    if (args.options.help === true) {
      process.stdout.write(DEAD_LETTER_USAGE);
      return EXIT.ok;
    }
    const action = actionOf(args);
    const url = stringOption(args, 'broker') ?? process.env.CELERIAC_BROKER_URL ?? DEFAULT_BROKER;
    if (isAmqpUrl(url)) store = await amqpStore(url, args);
    else {
      try {
        parseRedisUrl(url, { setting: '--broker' });
      } catch (error) {
        if (error instanceof RedisUrlError) throw new CliUsageError(error.message);
        throw error;
      }
      if (useSslOf(args) !== undefined) {
        throw new CliUsageError(
          '--broker-use-ssl is for a RabbitMQ broker; on Redis give TLS in the URL (rediss://...?ssl_ca_certs=...)',
        );
      }
      const logger = createLogger({ level: 'silent', pretty: false });
      const broker = new RedisBroker({ url, logger, transport: { globalKeyPrefix: keyPrefixFromArgs(args) } });
      store = redisStore(broker);
      if ((await raceTimeout(broker.start(), CONNECT_TIMEOUT_MS)) === TIMED_OUT) {
        throw new BrokerUnavailableError(url, 'start', new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }
    }
    await perform(store, action, url);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof BrokerError || error instanceof AmqpError) {
      process.stderr.write(`celeriac dead-letter: ${redactUrl(error.message)} [${error.code}]\n`);
      return EXIT.other;
    }
    const code = reportError('celeriac dead-letter', error);
    if (error instanceof CliUsageError) process.stderr.write(`\n${DEAD_LETTER_USAGE}`);
    return code;
  } finally {
    await store?.close().catch(() => undefined);
  }
}
