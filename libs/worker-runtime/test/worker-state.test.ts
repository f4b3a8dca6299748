import { Celeriac } from '@celeriac/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/redis-server.js';
import { Worker, type WorkerOptions, type WorkerState, type WorkerStateChange } from '../src/index.js';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

/** A worker that is not started yet, with its state events and log lines. */
function unstarted(app: Celeriac, options: Partial<WorkerOptions> = {}) {
  const log = new LogCapture();
  const worker = new Worker({
    app,
    queues: ['celery'],
    concurrency: 2,
    hostname: 'w@h',
    logger: log.logger,
    ...options,
  });
  const changes: WorkerStateChange[] = [];
  worker.on('state', (state, change) => {
    expect(change.to).toBe(state);
    changes.push(change);
  });
  // @ts-expect-error the event map has no such event
  worker.on('no-such-event', () => undefined);
  const states = () => changes.map((c) => c.to);
  /** The `worker.state` lines as [from, to, reason]. */
  const logged = () => log.events('worker.state').map((l) => [l.from, l.to, l.reason]);
  return { worker, log, changes, states, logged };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

describe('worker: life-cycle states', () => {
  it('logs and emits every transition of a run: created → starting → running → draining → stopped', async () => {
    const app = h.app();
    const { worker, states, logged } = unstarted(app);
    expect(worker.state).toBe<WorkerState>('created');
    await worker.start();
    await worker.warmShutdown();
    expect(states()).toEqual(['starting', 'running', 'draining', 'stopped']);
    expect(logged()).toEqual([
      ['created', 'starting', undefined],
      ['starting', 'running', undefined],
      ['running', 'draining', 'warm_shutdown'],
      ['draining', 'stopped', undefined],
    ]);
  });

  it('ends failed when start-up cannot connect (nothing listens on the port), logged with the error', async () => {
    const url = `redis://127.0.0.1:${await freePort()}/0`;
    // broker_connection_retry off: one try (on, Celery's default, the worker retries 100 times).
    const app = new Celeriac('tests', { broker_url: url, result_backend: url, broker_connection_retry: false });
    const { worker, states, log, changes } = unstarted(app);
    const error = await rejection(worker.start());
    expect(worker.state).toBe('failed');
    expect(states()).toEqual(['starting', 'failed']);
    expect(changes[1]).toMatchObject({ from: 'starting', to: 'failed', reason: 'start_failed', error });
    const line = log.events('worker.state').find((l) => l.to === 'failed');
    expect(line).toMatchObject({ from: 'starting', to: 'failed', reason: 'start_failed', level: 50 });
    expect(line?.err).toMatchObject({ message: error.message });
    // Final: shutdowns change nothing, a second start names the state.
    await worker.warmShutdown();
    await worker.coldShutdown();
    expect(worker.state).toBe('failed');
    const again = await rejection(worker.start());
    expect(again).toMatchObject({ code: 'WORKER_STATE' });
    expect(again.message).toContain('failed');
    expect(states()).toEqual(['starting', 'failed']);
    await app.close();
  });

  it('ends failed when the settings are invalid, before connecting', async () => {
    const app = h.app({ task_time_limit: 'long' });
    const { worker, states } = unstarted(app);
    expect(await rejection(worker.start())).toMatchObject({ code: 'WORKER_BAD_SETTING' });
    expect(states()).toEqual(['starting', 'failed']);
  });

  it('a shutdown asked for during start-up waits for the start, then drains', async () => {
    const app = h.app();
    app.task('t.noop', () => null);
    const { worker, states } = unstarted(app);
    const order: string[] = [];
    const starting = worker.start().then(() => order.push('started'));
    expect(worker.state).toBe('starting');
    const stopping = worker.warmShutdown().then(() => order.push('stopped'));
    await Promise.all([starting, stopping]);
    expect(order).toEqual(['started', 'stopped']);
    expect(states()).toEqual(['starting', 'running', 'draining', 'stopped']);
  });

  it('a shutdown asked for during a start-up that fails resolves, and the worker stays failed', async () => {
    const url = `redis://127.0.0.1:${await freePort()}/0`;
    const app = new Celeriac('tests', { broker_url: url, result_backend: url });
    const { worker, states } = unstarted(app);
    const starting = rejection(worker.start());
    await worker.coldShutdown();
    await starting;
    expect(states()).toEqual(['starting', 'failed']);
    await app.close();
  });

  it('refuses start() twice and after close(), naming the current state', async () => {
    const app = h.app();
    const first = unstarted(app);
    const started = first.worker.start();
    expect((await rejection(first.worker.start())).message).toContain('start() called in state starting');
    await started;
    const running = await rejection(first.worker.start());
    expect(running).toMatchObject({ code: 'WORKER_STATE' });
    expect(running.message).toContain('state running');
    await first.worker.close();
    const closed = unstarted(app);
    await closed.worker.close();
    expect(closed.logged()).toEqual([['created', 'stopped', 'closed_before_start']]);
    expect((await rejection(closed.worker.start())).message).toContain('start() called in state stopped');
  });

  it('fail() while running: cold shutdown (an acks_late task goes back), then failed with the error logged', async () => {
    const app = h.app();
    const never = app.task('t.never', () => new Promise(() => {}), { acks_late: true });
    const { worker, states, logged, log } = unstarted(app);
    await worker.start();
    const r = await never.delay();
    await waitFor(() => (worker.stats().running === 1 ? true : undefined));
    const fatal = new Error('boom in task code');
    await worker.fail(fatal);
    expect(states()).toEqual(['starting', 'running', 'draining', 'failed']);
    expect(logged().slice(2)).toEqual([
      ['running', 'draining', 'fatal_error'],
      ['draining', 'failed', 'fatal_error'],
    ]);
    expect(log.events('worker.state').at(-1)?.err).toMatchObject({ message: 'boom in task code' });
    const queued = (await h.broker.lrange('celery', 0, -1)).map((raw) => JSON.parse(raw).headers.id);
    expect(queued).toEqual([r.id]);
    expect(worker.stats()).toMatchObject({ held: 0, running: 0 });
    await worker.fail(new Error('again'));
    expect(worker.state).toBe('failed');
  });

  it('fail() before start goes straight to failed', async () => {
    const { worker, logged } = unstarted(h.app());
    await worker.fail(new Error('config went bad'));
    expect(worker.state).toBe('failed');
    expect(logged()).toEqual([['created', 'failed', 'fatal_error']]);
  });
});
