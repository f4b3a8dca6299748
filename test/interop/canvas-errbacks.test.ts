// Errbacks as Celery 5.2 calls them (backends/base.py `_call_task_errbacks`): an errback task the
// worker has, taking more than one parameter, is called in that worker as (request, exc, traceback);
// any other errback (one parameter, or a task only another worker has) gets a message with [task_id].
import { signature } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type CanvasFleet, runCanvasClient, startCanvasFleet } from './canvas-support.js';

describe('errbacks Celery-5 style across Python and celeriac', { timeout: 120_000 }, () => {
  let fleet: CanvasFleet;

  beforeAll(async () => {
    fleet = await startCanvasFleet();
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  async function recordOf(taskId: string): Promise<Record<string, unknown>> {
    const raw = await pollUntil(async () => (await fleet.brokerDb.hget('canvas.errbacks', taskId)) ?? undefined, {
      what: `the errback record of ${taskId}`,
      timeoutMs: 20_000,
      detail: () => fleet.tails(),
    });
    return JSON.parse(raw) as Record<string, unknown>;
  }

  it('Python client: a failing task on each worker calls the errback that worker has with (request, exc, traceback)', async () => {
    const [onTs, onPy] = await runCanvasClient(
      [
        {
          op: 'send',
          name: 'tasks.fail',
          options: { queue: 'ts', link_error: { name: 'tasks.ts_on_error' } },
          wait: 20,
        },
        {
          op: 'send',
          name: 'tasks.fail',
          options: { queue: 'py', link_error: { name: 'tasks.py_on_error' } },
          wait: 20,
        },
      ],
      fleet.config,
    );
    expect(onTs).toMatchObject({ ok: false, exc_type: 'ValueError', state: 'FAILURE' });
    expect(onPy).toMatchObject({ ok: false, exc_type: 'ValueError', state: 'FAILURE' });
    expect(await recordOf(onTs?.id as string)).toEqual({
      worker: 'celeriac',
      style: 'new',
      request_id: onTs?.id,
      request_task: 'tasks.fail',
      exc_type: 'ValueError',
      exc_message: 'bad value',
      traceback: true,
    });
    expect(await recordOf(onPy?.id as string)).toMatchObject({
      worker: 'python',
      style: 'new',
      request_id: onPy?.id,
      request_task: 'tasks.fail',
      exc_type: 'ValueError',
      exc_repr: "ValueError('bad value', 42)",
      traceback: true,
    });
  });

  it('an errback only the other worker has is sent old style, [task_id], from either side', async () => {
    // celeriac runs the failure, the errback is Python's; and the other way round.
    const tsFailure = await fleet.app.sendTask(
      'tasks.fail',
      [],
      {},
      {
        queue: 'ts',
        link_error: signature('tasks.py_on_error', [], {}, { queue: 'py' }),
      },
    );
    const [pyFailure] = await runCanvasClient(
      [
        {
          op: 'send',
          name: 'tasks.fail',
          options: { queue: 'py', link_error: { name: 'tasks.ts_on_error', options: { queue: 'ts' } } },
          wait: 20,
        },
      ],
      fleet.config,
    );
    await expect(tsFailure.get({ timeout: 20_000 })).rejects.toThrow(/ValueError/);
    expect(await recordOf(tsFailure.id)).toEqual({ worker: 'python', style: 'old', arg: tsFailure.id });
    expect(await recordOf(pyFailure?.id as string)).toEqual({ worker: 'celeriac', style: 'old', arg: pyFailure?.id });
  });

  it('a one-parameter errback is always called old style, in each language', async () => {
    const ts = await fleet.app.sendTask(
      'tasks.fail',
      [],
      {},
      {
        queue: 'ts',
        link_error: signature('tasks.ts_on_error_id', [], {}, { queue: 'ts' }),
      },
    );
    const py = await fleet.app.sendTask(
      'tasks.fail',
      [],
      {},
      {
        queue: 'py',
        link_error: signature('tasks.py_on_error_id', [], {}, { queue: 'py' }),
      },
    );
    expect(await recordOf(ts.id)).toEqual({ worker: 'celeriac', style: 'old', arg: ts.id });
    expect(await recordOf(py.id)).toEqual({ worker: 'python', style: 'old', arg: py.id });
  });
});
