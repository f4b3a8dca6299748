import { Celeriac } from '@celeriac/client';
import type { Logger } from '@celeriac/logger';

/** Sends tasks.add(i, i) every second and logs each result. */
export class DemoProducer {
  private readonly app: Celeriac;
  private timer: NodeJS.Timeout | undefined;
  private n = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    brokerUrl: string,
    resultBackend: string,
    private readonly logger: Logger,
  ) {
    this.app = new Celeriac('producer', { broker_url: brokerUrl, result_backend: resultBackend });
  }

  start(): void {
    this.timer = setInterval(() => {
      const i = ++this.n;
      const p = this.send(i).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, 1000);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
    await this.app.close();
  }

  private async send(i: number): Promise<void> {
    try {
      const started = Date.now();
      const result = await this.app.sendTask('tasks.add', [i, i]);
      const value = await result.get({ timeout: 15_000 });
      this.logger.info(
        {
          event: 'cli.demo_task_done',
          task: 'tasks.add',
          args: [i, i],
          result: value,
          duration_ms: Date.now() - started,
        },
        'demo task done',
      );
    } catch (error) {
      this.logger.warn({ event: 'cli.demo_task_failed', task: 'tasks.add', err: error }, 'demo task failed');
    }
  }
}
