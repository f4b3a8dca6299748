import { loadavg, type as osType } from 'node:os';
import type { Logger } from '@celeriac/logger';
import type { EventDispatcher } from './event-dispatcher.js';
import { pyFloat } from './py-json.js';

/** The two counters a heartbeat carries. */
export interface WorkerCounters {
  /** Requests running now. */
  active(): number;
  /** Tasks processed since start (every task name). */
  processed(): number;
}

export interface WorkerHeartOptions {
  events: EventDispatcher;
  counters: WorkerCounters;
  logger: Logger;
  /** Celery's `worker_heartbeat` interval: 2 s. */
  intervalMs?: number;
  /** `sw_ident` / `sw_ver` monitors show; `sw_sys` defaults to the OS name (`Linux`). */
  swIdent?: string;
  swVer?: string;
  swSys?: string;
}

/** Software identity of a Celeriac node in worker events. */
export const CELERIAC_SW_IDENT = 'celeriac';
export const CELERIAC_SW_VER = '0.1.0';

type HeartState = 'idle' | 'beating' | 'stopped';

/**
 * Celery's `Heart`: `worker-online` at start, `worker-heartbeat` every 2 s, `worker-offline` at
 * stop, with the fields of celery/worker/heartbeat.py. Receivers mark a node offline when two
 * heartbeats are missed, so `start()` must run as soon as the worker consumes.
 */
export class WorkerHeart {
  private timer: NodeJS.Timeout | undefined;
  private current: HeartState = 'idle';
  private readonly intervalMs: number;

  constructor(private readonly options: WorkerHeartOptions) {
    this.intervalMs = options.intervalMs ?? 2_000;
  }

  get state(): HeartState {
    return this.current;
  }

  private setState(next: HeartState): void {
    const from = this.current;
    this.current = next;
    this.options.logger.info({ event: 'control.heart.state', from, to: next }, `heart ${next}`);
  }

  /** The fields of one worker event, in Celery's order. */
  fields(): Record<string, unknown> {
    const [one, five, fifteen] = loadavg();
    const round = (l: number | undefined) => pyFloat(Math.ceil((l ?? 0) * 100) / 100);
    return {
      freq: pyFloat(this.intervalMs / 1000),
      active: this.options.counters.active(),
      processed: this.options.counters.processed(),
      loadavg: [round(one), round(five), round(fifteen)],
      sw_ident: this.options.swIdent ?? CELERIAC_SW_IDENT,
      sw_ver: this.options.swVer ?? CELERIAC_SW_VER,
      sw_sys: this.options.swSys ?? osType(),
    };
  }

  /** Sends `worker-online` and starts the heartbeat timer. */
  async start(): Promise<void> {
    if (this.current !== 'idle') return;
    this.setState('beating');
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
    await this.options.events.send('worker-online', this.fields());
  }

  /** Sends one `worker-heartbeat` now (the `heartbeat` control command, and the timer). */
  beat(): Promise<void> {
    if (this.current !== 'beating') return Promise.resolve();
    return this.options.events.send('worker-heartbeat', this.fields());
  }

  /** Stops the timer and sends `worker-offline` (resolves once published). Idempotent. */
  async stop(): Promise<void> {
    if (this.current !== 'beating') {
      this.current = 'stopped';
      return;
    }
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.setState('stopped');
    await this.options.events.send('worker-offline', this.fields());
  }
}
