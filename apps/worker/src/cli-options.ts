import { parseArgs } from 'node:util';
import { WorkerCliError } from './errors.js';

/** The options of `celeriac worker`. */
export interface WorkerCliOptions {
  app: string;
  queues: string[] | null;
  concurrency: number | null;
  logLevel: string;
  configFile: string | null;
  name: string | null;
  readyFile: string | null;
  prefetchMultiplier: number | null;
  drainTimeoutMs: number;
  /** `-E`: send task events (as `worker_send_task_events`). */
  taskEvents: boolean;
  /** `--strict-settings`: refuse unsupported and unknown settings (as `celeriac_strict_settings`). */
  strictSettings: boolean;
  help: boolean;
}

/** Usage text of `celeriac worker`. */
export const WORKER_USAGE = `Usage: celeriac worker -A <module> [options]

  -A, --app <module>            module exporting the app as \`app\` or default (.ts, .js, .mjs; module:attr)
  -Q, --queues <q1,q2>          queues to consume (default: task_default_queue)
  -c, --concurrency <n>         tasks running at once (default: worker_concurrency, else 16)
  -l, --loglevel <level>        trace, debug, info, warn, error (default: info)
      --config <file>           JSON (or JS module) of Celery settings loaded into app.conf
  -n, --hostname <name>         node name (default: celeriac@<hostname>; %h = hostname)
      --ready-file <path>       written atomically once consuming (also env CELERIAC_READY_FILE)
      --prefetch-multiplier <n> prefetch limit = concurrency × n (default: worker_prefetch_multiplier)
      --drain-timeout <s>       warm shutdown waits this long for running tasks (default: 30)
  -E, --task-events             send task events (celery events, monitors; as worker_send_task_events)
      --strict-settings         refuse to start on unsupported or unknown settings (as celeriac_strict_settings)
  -h, --help                    show this help
`;

function positiveInt(name: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new WorkerCliError('WORKER_USAGE', `${name} must be an integer ≥ 1, got "${value}".`);
  return n;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'fatal']);

/** Parses the arguments after `celeriac worker`. */
export function parseWorkerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): WorkerCliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        app: { type: 'string', short: 'A' },
        queues: { type: 'string', short: 'Q' },
        concurrency: { type: 'string', short: 'c' },
        loglevel: { type: 'string', short: 'l' },
        config: { type: 'string' },
        hostname: { type: 'string', short: 'n' },
        'ready-file': { type: 'string' },
        'prefetch-multiplier': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'task-events': { type: 'boolean', short: 'E' },
        'strict-settings': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new WorkerCliError('WORKER_USAGE', (error as Error).message);
  }
  const help = values.help === true;
  const app = values.app as string | undefined;
  if (!help && (app === undefined || app === '')) {
    throw new WorkerCliError('WORKER_USAGE', 'Missing -A <module>: the module that exports the app.');
  }
  const level = ((values.loglevel as string | undefined) ?? 'info').toLowerCase();
  if (!LEVELS.has(level)) {
    throw new WorkerCliError(
      'WORKER_USAGE',
      `Unknown log level "${values.loglevel}"; use trace, debug, info, warn or error.`,
    );
  }
  const queues = (values.queues as string | undefined)
    ?.split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  const drain = values['drain-timeout'] as string | undefined;
  const drainSec = drain === undefined ? 30 : Number(drain);
  if (!Number.isFinite(drainSec) || drainSec < 0) {
    throw new WorkerCliError('WORKER_USAGE', `--drain-timeout must be a number of seconds ≥ 0, got "${drain}".`);
  }
  return {
    app: app ?? '',
    queues: queues && queues.length > 0 ? queues : null,
    concurrency: positiveInt('-c/--concurrency', values.concurrency as string | undefined),
    logLevel: level === 'warning' ? 'warn' : level === 'critical' ? 'fatal' : level,
    configFile: (values.config as string | undefined) ?? null,
    name: (values.hostname as string | undefined) ?? null,
    readyFile: (values['ready-file'] as string | undefined) || env.CELERIAC_READY_FILE || null,
    prefetchMultiplier: positiveInt('--prefetch-multiplier', values['prefetch-multiplier'] as string | undefined),
    drainTimeoutMs: drainSec * 1000,
    taskEvents: values['task-events'] === true,
    strictSettings: values['strict-settings'] === true,
    help,
  };
}
