import type { Logger } from '@celeriac/logger';

/** What the signal and crash handlers drive (a `Worker`). */
export interface Stoppable {
  warmShutdown(): Promise<void>;
  coldShutdown(): Promise<void>;
  /** Cold shutdown ending in the `failed` state. */
  fail(error: unknown): Promise<void>;
}

/**
 * SIGTERM / SIGINT: warm shutdown; a second one, or SIGQUIT: cold shutdown (as Celery).
 * Returns a function that removes the handlers.
 */
export function installShutdownSignals(worker: Stoppable, logger: Logger): () => void {
  let warm = false;
  const onWarm = (signal: NodeJS.Signals): void => {
    if (warm) {
      onCold(signal);
      return;
    }
    warm = true;
    logger.info(
      { event: 'worker.signal', signal },
      `${signal}: warm shutdown (send it again or SIGQUIT for a cold one)`,
    );
    void worker.warmShutdown();
  };
  const onCold = (signal: NodeJS.Signals): void => {
    logger.warn({ event: 'worker.signal', signal }, `${signal}: cold shutdown`);
    void worker.coldShutdown();
  };
  process.on('SIGTERM', onWarm);
  process.on('SIGINT', onWarm);
  process.on('SIGQUIT', onCold);
  return () => {
    process.off('SIGTERM', onWarm);
    process.off('SIGINT', onWarm);
    process.off('SIGQUIT', onCold);
  };
}

/**
 * A stray rejected promise in task code is logged, not fatal (a worker outlives one bad task). An
 * uncaught exception leaves the process in an unknown state: log it, hand back what is held (cold
 * shutdown, the worker ends `failed`) and exit 1 so the supervisor restarts a clean process.
 */
export function installCrashHandlers(worker: Stoppable, logger: Logger): () => void {
  const onRejection = (reason: unknown): void => {
    logger.error({ event: 'worker.unhandled_rejection', err: reason }, 'Unhandled promise rejection in task code');
  };
  const onException = (error: Error): void => {
    logger.fatal({ event: 'worker.uncaught_exception', err: error }, 'Uncaught exception: cold shutdown, exit 1');
    void worker.fail(error).finally(() => process.exit(1));
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
