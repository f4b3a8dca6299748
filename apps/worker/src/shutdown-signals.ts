import type { Logger } from '@celeriac/logger';

/** What the signal handlers drive. */
export interface Stoppable {
  warmShutdown(): Promise<void>;
  coldShutdown(): Promise<void>;
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
