import { hostname as osHostname } from 'node:os';
import type { Logger } from '@celeriac/logger';
import { parseWorkerArgs, WORKER_USAGE, type WorkerCliOptions } from './cli-options.js';
import { WorkerCliError } from './errors.js';

/** How long a recycled worker (everything flushed and closed) waits for stray handles before it exits. */
const RECYCLE_EXIT_GRACE_MS = 300;

/** Writes out buffered log lines (pino's `flush`; the `Logger` type does not promise one). */
function flushLogs(logger: Logger): void {
  (logger as Logger & { flush?: () => void }).flush?.();
}

function nodeName(option: string | null): string {
  const host = osHostname();
  const name = option ?? 'celeriac@%h';
  return name.replaceAll('%h', host).replaceAll('%n', host.split('.')[0] ?? host);
}

/**
 * `celeriac worker ...`: loads the app, builds a worker, announces readiness, and runs until a
 * signal stops it. Resolves to the exit code (0 after a clean stop, 1 on errors, 2 on usage errors).
 */
export async function runWorkerCli(argv: string[]): Promise<number> {
  let options: WorkerCliOptions;
  try {
    options = parseWorkerArgs(argv);
  } catch (error) {
    process.stderr.write(`celeriac worker: ${(error as Error).message}\n\n${WORKER_USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(WORKER_USAGE);
    return 0;
  }
  const [
    { createLogger, redactUrl },
    { Worker, startTaskHealthFile, taskQueuesFromSettings },
    { loadApp, loadImports },
    { announceReady },
    { installShutdownSignals, installCrashHandlers },
  ] = await Promise.all([
    import('@celeriac/logger'),
    import('@celeriac/worker-runtime'),
    import('./load-app.js'),
    import('./readiness.js'),
    import('./shutdown-signals.js'),
  ]);
  const name = nodeName(options.name);
  const logger = createLogger({ level: options.logLevel, bindings: { name } });
  let app: Awaited<ReturnType<typeof loadApp>>['app'] | undefined;
  let worker: InstanceType<typeof Worker> | undefined;
  try {
    let appFile: string;
    ({ app, file: appFile } = await loadApp(options.app));
    if (options.configFile !== null) {
      if (typeof app.conf.loadFile !== 'function') {
        throw new WorkerCliError('WORKER_CONFIG_INVALID', 'The app has no conf.loadFile(); it is not a Celeriac app.');
      }
      await app.conf.loadFile(options.configFile);
    }
    // Strict mode refuses unsupported and unknown settings here (ConfigError names each one).
    if (options.strictSettings) app.conf.update?.({ celeriac_strict_settings: true });
    await loadImports(app.conf.settings, appFile);
    if ('logger' in app) (app as { logger: unknown }).logger = logger.child({ component: 'client' });
    const settings = app.conf.settings;
    // Without -Q, every task_queues entry (else the default queue), as Celery's worker consumes app.amqp.queues.
    const queues = options.queues ?? [...taskQueuesFromSettings(settings).bindings.keys()];
    const configured = settings.worker_concurrency;
    const concurrency = options.concurrency ?? (typeof configured === 'number' && configured >= 1 ? configured : 16);
    const pid = process.pid;
    worker = new Worker({
      app,
      queues,
      concurrency,
      ...(options.prefetchMultiplier !== null ? { prefetchMultiplier: options.prefetchMultiplier } : {}),
      hostname: name,
      ownerId: `${name}:${pid}`,
      logger,
      drainTimeoutMs: options.drainTimeoutMs,
      watchdog: true,
      taskEvents: options.taskEvents,
    });
    const running = worker;
    const stopped = new Promise<void>((resolve) => {
      running.on('state', (state) => {
        if (state === 'stopped' || state === 'failed') resolve();
      });
    });
    const removeSignals = installShutdownSignals(running, logger);
    const removeCrashHandlers = installCrashHandlers(running, logger);
    logger.info(
      {
        event: 'worker.starting',
        broker: redactUrl(String(settings.broker_url)),
        queues,
        concurrency,
        tasks: [...app.tasks.keys()],
      },
      `Starting ${name}`,
    );
    try {
      await running.start();
      await announceReady({ readyFile: options.readyFile, name, queues, logger });
      const health = startTaskHealthFile(options.readyFile, name, logger);
      await stopped;
      await health?.close();
    } finally {
      removeSignals();
      removeCrashHandlers();
    }
    await app.close?.();
    flushLogs(logger);
    if (running.state === 'stopped' && running.recycled !== null) {
      const { WORKER_RECYCLE_EXIT_CODE } = await import('@celeriac/config-schema');
      const { replacedByParent, runReplacements } = await import('./self-replace.js');
      // Under the agent (or our own relay) the parent starts the successor; alone, re-execute.
      if (replacedByParent()) {
        // The successor starts when this process is gone: do not wait for handles task code left open.
        setTimeout(() => process.exit(WORKER_RECYCLE_EXIT_CODE), RECYCLE_EXIT_GRACE_MS).unref();
        return WORKER_RECYCLE_EXIT_CODE;
      }
      return runReplacements(logger, WORKER_RECYCLE_EXIT_CODE);
    }
    // `failed`: a fatal error while running (the crash handler exits 1 too).
    return running.state === 'failed' ? 1 : 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.error(
      { event: 'worker.failed', code: (error as { code?: string }).code, err: error },
      `Worker failed: ${message}`,
    );
    await worker?.coldShutdown().catch(() => undefined);
    await app?.close?.().catch(() => undefined);
    flushLogs(logger);
    return 1;
  }
}
