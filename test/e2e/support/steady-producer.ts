import { Celeriac } from '@celeriac/client';

/**
 * A client named `producer` that runs `step` every 100 ms, one step at a time, until stopped: the
 * steady stream of tasks the fleet tests keep up while they make their changes. A step that fails
 * (a send during a restart) is dropped; the next one goes on.
 */
export abstract class SteadyProducer {
  readonly app: Celeriac;
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  private sending = Promise.resolve();

  constructor(settings: Record<string, unknown>) {
    this.app = new Celeriac('producer', settings);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sending = this.sending.then(() => this.step(++this.tick)).catch(() => undefined);
    }, 100);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sending;
  }

  /** Sends the tasks of step `tick` (1, 2, …). */
  protected abstract step(tick: number): Promise<void>;
}
