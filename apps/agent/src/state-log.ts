import type { Logger } from '@celeriac/logger';

/**
 * The current state of an agent or a program, with every transition logged as
 * `{ event: '<thing>.state', from, to, reason }` (plus fixed fields such as the program name).
 */
export class StateLog<S extends string> {
  private current: S;

  constructor(
    initial: S,
    private readonly logger: Logger,
    private readonly event: 'agent.state' | 'program.state',
    private readonly fields: Record<string, unknown> = {},
  ) {
    this.current = initial;
  }

  get value(): S {
    return this.current;
  }

  /** Moves to `to` and logs why; false (and no line) when already there. */
  set(to: S, reason: string): boolean {
    const from = this.current;
    if (from === to) return false;
    this.current = to;
    const level = to === 'failed' || to === 'fatal' ? 'error' : to === 'degraded' || to === 'backoff' ? 'warn' : 'info';
    this.logger[level]({ event: this.event, ...this.fields, from, to, reason }, `${from} → ${to}: ${reason}`);
    return true;
  }
}
