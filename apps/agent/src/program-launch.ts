import { createHash } from 'node:crypto';
import path from 'node:path';
import { celerySettingsForProgram, type EffectiveConfig, type Program } from '@celeriac/config-schema';
import { programDir } from './program-dir.js';
import { isRedisBrokerUrl } from './redis-broker-only.js';
import { renderCeleryconfig } from './render-celeryconfig.js';
import { renderArgv, renderTemplate } from './render-command-config.js';

/** A command program counts as ready once it has stayed alive this long. */
export const COMMAND_GRACE_MS = 500;

/** Where the agent's programs come from on this host. */
export interface LaunchContext {
  node: string;
  host: string;
  stateDir: string;
  /** Directory that relative app paths and commands are resolved against. */
  workDir: string;
  /** Path of `apps/cli/bin/celeriac.js`. */
  celeriacBin: string;
  /** Node.js executable for celeriac workers. */
  nodePath: string;
  /** Python executable for Celery workers. */
  pythonPath: string;
}

/** How the agent knows a new process is ready. */
export type Readiness =
  | { type: 'file'; path: string }
  | { type: 'line'; pattern: RegExp; logFile: string }
  | { type: 'grace'; ms: number };

/** Everything needed to spawn one replica. */
export interface Launch {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  readiness: Readiness;
  logFile: string;
  /** `-n` name given to a worker, when the program is one. */
  workerName?: string;
  /** Commands run (in order, each bounded in time) before the process gets TERM. */
  drain?: DrainCommand[];
  /** Pause after the drain commands, for work already on its way to the process to be handed back. */
  drainSettleMs?: number;
}

/** A short command that makes a process stop taking work before it is stopped. */
export interface DrainCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** A program's rendered config file. */
export interface RenderedConfig {
  file: string;
  content: string;
  hash: string;
}

/** sha256 of a file's bytes, the `config_hash` reported for a program and what the watcher compares. */
export function fileHash(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The config file a program reads: config.json, celeryconfig.py, or the command's rendered file. */
export function configFilePath(stateDir: string, name: string, def: Program): string {
  const dir = programDir(stateDir, name);
  if (def.kind === 'celeriac-worker') return path.join(dir, 'config.json');
  if (def.kind === 'celery-worker') return path.join(dir, 'celeryconfig.py');
  const base = def.config_file ? path.basename(def.config_file) : 'config';
  return path.join(dir, base);
}

/** Renders the program's config file from the node's effective config. */
export function renderProgramConfig(
  name: string,
  def: Program,
  config: EffectiveConfig,
  ctx: LaunchContext,
  revision: number | null,
): RenderedConfig {
  const file = configFilePath(ctx.stateDir, name, def);
  let content: string;
  if (def.kind === 'celeriac-worker') {
    // Only what a celeriac worker reads, so the file changes exactly when classifyChange restarts it.
    content = `${JSON.stringify(sortKeys(celerySettingsForProgram(def, config.celery)), null, 2)}\n`;
  } else if (def.kind === 'celery-worker') {
    content = renderCeleryconfig(config.celery, { node: ctx.node, program: name, revision });
  } else {
    content = renderTemplate(def.config_template ?? '', templateContext(name, def, config, ctx, file));
  }
  return { file, content, hash: fileHash(content) };
}

/**
 * Builds the command line of replica `replica` (1-based) of a program. `generation` numbers the
 * processes of the program: a Celery worker's name carries it, because during a rolling restart
 * the old and the new process of a replica run side by side and remote control (which the agent
 * uses to drain the old one) addresses workers by name.
 */
export function buildLaunch(
  name: string,
  def: Program,
  replica: number,
  config: EffectiveConfig,
  ctx: LaunchContext,
  generation = 1,
): Launch {
  const dir = programDir(ctx.stateDir, name);
  const configFile = configFilePath(ctx.stateDir, name, def);
  const logFile = path.join(dir, 'logs', `${replica}.log`);
  const readyFile = path.join(dir, 'ready', `${replica}.json`);
  const env = { ...(def.env ?? {}), CELERIAC_PROGRAM: name, CELERIAC_REPLICA: String(replica) };
  const workerName = `${ctx.node}.${name}.${replica}@${ctx.host}`;
  const queues = (def.queues ?? []).join(',');
  const concurrency = String(def.concurrency ?? 1);
  if (def.kind === 'celeriac-worker') {
    // On RabbitMQ a node's pidbox is a queue named after it: the old and the new process of a
    // rolling restart would share it and split its broadcasts (a revoke reaching only one), so
    // there the name carries the generation, as a Celery worker's does. Redis's pidbox fans out.
    const brokerUrl = config.celery.broker_url;
    const celeriacName =
      typeof brokerUrl === 'string' && !isRedisBrokerUrl(brokerUrl)
        ? `${ctx.node}.${name}.${replica}.g${generation}@${ctx.host}`
        : workerName;
    const args = [ctx.celeriacBin, 'worker', '-A', resolveApp(def.app ?? '', ctx.workDir)];
    if (queues) args.push('-Q', queues);
    args.push('-c', concurrency, '-l', def.loglevel ?? 'info', '--config', configFile);
    args.push('-n', celeriacName, '--ready-file', readyFile);
    return {
      file: ctx.nodePath,
      args,
      env,
      cwd: ctx.workDir,
      readiness: { type: 'file', path: readyFile },
      logFile,
      workerName: celeriacName,
    };
  }
  if (def.kind === 'celery-worker') {
    const celeryName = `${ctx.node}.${name}.${replica}.g${generation}@${ctx.host}`;
    const { module, moduleDir } = pythonModule(def.app ?? '', ctx.workDir);
    const pythonPath = [dir, def.env?.PYTHONPATH, moduleDir, process.env.PYTHONPATH]
      .filter(Boolean)
      .join(path.delimiter);
    const args = ['-m', 'celery', '-A', module, 'worker'];
    if (queues) args.push('-Q', queues);
    // The ready line is logged at INFO; mingle and gossip only delay start-up under a supervisor.
    const level = def.loglevel && /^(debug|info)$/i.test(def.loglevel) ? def.loglevel : 'info';
    args.push('-c', concurrency, '-n', celeryName, '-l', level, '--without-mingle', '--without-gossip');
    const pythonEnv = { ...env, PYTHONPATH: pythonPath, CELERY_CONFIG_MODULE: 'celeryconfig', PYTHONUNBUFFERED: '1' };
    // Celery 5.2 can drop the message its last BRPOP returns when a warm shutdown races it; told
    // to stop consuming first (remote control), it hands such a message back to the queue.
    const consumed = def.queues?.length ? def.queues : [String(config.celery.task_default_queue ?? 'celery')];
    const drain = consumed.map((queue) => ({
      file: ctx.pythonPath,
      args: ['-m', 'celery', '-A', module, 'control', 'cancel_consumer', queue, '-d', celeryName, '--timeout', '2'],
      env: pythonEnv,
      cwd: ctx.workDir,
    }));
    return {
      file: ctx.pythonPath,
      args,
      env: pythonEnv,
      cwd: ctx.workDir,
      readiness: { type: 'line', pattern: new RegExp(`${escapeRegExp(celeryName)} ready\\.`), logFile },
      logFile,
      workerName: celeryName,
      drain,
      // kombu's BRPOP in flight at the cancel lasts up to 1 s; what it returns is requeued only while
      // the worker still runs.
      drainSettleMs: 1500,
    };
  }
  const context = templateContext(name, def, config, ctx, configFile);
  const argv = renderArgv(def.command ?? [], { ...context, replica, ready_file: readyFile });
  return {
    file: argv[0] ?? '',
    args: argv.slice(1),
    env: { ...env, CELERIAC_CONFIG_FILE: configFile, CELERIAC_READY_FILE: readyFile },
    cwd: ctx.workDir,
    readiness: { type: 'grace', ms: COMMAND_GRACE_MS },
    logFile,
  };
}

function templateContext(
  name: string,
  def: Program,
  config: EffectiveConfig,
  ctx: LaunchContext,
  configFile: string,
): Record<string, unknown> {
  return {
    ...config,
    node: ctx.node,
    host: ctx.host,
    program: { ...def, name },
    config_path: configFile,
    program_dir: programDir(ctx.stateDir, name),
  };
}

function resolveApp(app: string, workDir: string): string {
  return app.startsWith('./') || app.startsWith('../') ? path.resolve(workDir, app) : app;
}

/** `proj.tasks` is imported from the work dir; a path like `./py/tasks.py` becomes module `tasks` with its folder on PYTHONPATH. */
function pythonModule(app: string, workDir: string): { module: string; moduleDir: string | undefined } {
  if (app.endsWith('.py') || app.includes('/')) {
    const full = path.resolve(workDir, app);
    return { module: path.basename(full).replace(/\.py$/, ''), moduleDir: path.dirname(full) };
  }
  return { module: app, moduleDir: workDir };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, value[k]]),
  );
}
