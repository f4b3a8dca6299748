// Celery's built-in tasks (celery/app/builtins.py) sent by name from a Python client: a celeriac
// worker serves each as a Python worker does (compared side by side on queues `ts` and `py`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type CanvasFleet, runCanvasClient, startCanvasFleet } from './canvas-support.js';

const sig = (name: string, args: unknown[], queue: string, taskId?: string) => ({
  task: name,
  args,
  kwargs: {},
  options: { queue, ...(taskId ? { task_id: taskId } : {}) },
  subtask_type: null,
  immutable: false,
});

describe('Celery built-in tasks on a celeriac worker', { timeout: 120_000 }, () => {
  let fleet: CanvasFleet;

  beforeAll(async () => {
    // celery.chunks sends its celery.starmap tasks on the mapped task's route (the default queue), as Celery does.
    fleet = await startCanvasFleet({ tsQueues: ['ts', 'celery'] });
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  const both = (op: (queue: string) => Record<string, unknown>) => runCanvasClient([op('ts'), op('py')], fleet.config);

  it('celery.accumulate, celery.map, celery.starmap give what a Python worker gives', async () => {
    const [accTs, accPy] = await both((queue) => ({
      op: 'send',
      name: 'celery.accumulate',
      args: [1, 2, 3],
      kwargs: { index: 1 },
      options: { queue },
      wait: 20,
    }));
    expect(accTs, fleet.tails()).toMatchObject({ ok: true, result: 2 });
    expect(accPy).toMatchObject({ ok: true, result: 2 });
    const [allTs, allPy] = await both((queue) => ({
      op: 'send',
      name: 'celery.accumulate',
      args: [1, 2],
      options: { queue },
      wait: 20,
    }));
    expect(allTs?.result).toEqual([1, 2]);
    expect(allPy?.result).toEqual([1, 2]);
    const [mapTs, mapPy] = await both((queue) => ({
      op: 'send',
      name: 'celery.starmap',
      kwargs: {
        task: sig('tasks.mul', [], queue),
        it: [
          [2, 3],
          [4, 5],
        ],
      },
      options: { queue },
      wait: 20,
    }));
    expect(mapTs?.result).toEqual([6, 20]);
    expect(mapPy?.result).toEqual([6, 20]);
  });

  it('celery.map of a task this worker does not have fails NotRegistered, as on Python', async () => {
    const [onTs, onPy] = await both((queue) => ({
      op: 'send',
      name: 'celery.map',
      kwargs: { task: sig('tasks.nowhere', [], queue), it: [1] },
      options: { queue },
      wait: 20,
    }));
    expect(onTs).toMatchObject({ ok: false, exc_type: 'NotRegistered', state: 'FAILURE' });
    expect(onPy).toMatchObject({ ok: false, exc_type: 'NotRegistered', state: 'FAILURE' });
  });

  it('celery.chain fails with NotImplementedError (it is not a real task)', async () => {
    const [onTs, onPy] = await both((queue) => ({ op: 'send', name: 'celery.chain', options: { queue }, wait: 20 }));
    expect(onTs).toMatchObject({ ok: false, exc_type: 'NotImplementedError', exc_args: ['chain is not a real task'] });
    expect(onPy).toMatchObject({ ok: false, exc_type: 'NotImplementedError', exc_args: ['chain is not a real task'] });
  });

  it('celery.backend_cleanup is a no-op on Redis and says so', async () => {
    const [onTs, onPy] = await both((queue) => ({
      op: 'send',
      name: 'celery.backend_cleanup',
      options: { queue },
      wait: 20,
    }));
    expect(onTs?.ok).toBe(true);
    expect(String(onTs?.result)).toMatch(/expire by their TTL \(result_expires\)/);
    expect(onPy).toMatchObject({ ok: true, result: null });
    expect(fleet.ts.program.output()).toContain('"event":"worker.backend_cleanup"');
  });

  it('celery.group, celery.chord and celery.chunks send their tasks from the worker', async () => {
    const groupId = crypto.randomUUID();
    const memberIds = [crypto.randomUUID(), crypto.randomUUID()];
    const [grouped] = await runCanvasClient(
      [
        {
          op: 'send',
          name: 'celery.group',
          kwargs: {
            tasks: [sig('tasks.add', [1], 'ts', memberIds[0]), sig('tasks.add', [2], 'ts', memberIds[1])],
            result: [[groupId, null], memberIds.map((id) => [[id, null], null])],
            group_id: groupId,
            partial_args: [10],
          },
          options: { queue: 'ts' },
          wait: 20,
        },
        ...memberIds.map((id) => ({ op: 'get', id, wait: 20 })),
      ],
      fleet.config,
    ).then((lines) => {
      expect(lines.slice(1).map((l) => l.result)).toEqual([11, 12]);
      return lines;
    });
    expect(grouped?.ok, fleet.tails()).toBe(true);
    const member = JSON.parse((await fleet.backendDb.get(`celery-task-meta-${memberIds[0]}`)) as string);
    expect(member).toMatchObject({ group_id: groupId, parent_id: grouped?.id });

    const bodyId = crypto.randomUUID();
    const [chorded, body] = await runCanvasClient(
      [
        {
          op: 'send',
          name: 'celery.chord',
          kwargs: {
            header: [sig('tasks.add', [1, 1], 'ts'), sig('tasks.add', [2, 2], 'ts')],
            body: sig('tasks.tsum', [], 'ts', bodyId),
          },
          options: { queue: 'ts' },
          wait: 20,
        },
        { op: 'get', id: bodyId, wait: 30 },
      ],
      fleet.config,
    );
    expect(chorded?.ok, fleet.tails()).toBe(true);
    expect(body).toMatchObject({ ok: true, result: 6 });

    const [chunked] = await runCanvasClient(
      [
        {
          op: 'send',
          name: 'celery.chunks',
          kwargs: {
            task: sig('tasks.add', [], 'ts'),
            it: [
              [1, 1],
              [2, 2],
              [3, 3],
            ],
            n: 2,
          },
          options: { queue: 'ts' },
          wait: 20,
        },
      ],
      fleet.config,
    );
    // The result is the GroupResult tuple of the celery.starmap tasks it sent.
    const tuple = chunked?.result as [[string, null], [[string, null], null][]];
    expect(tuple[1]).toHaveLength(2);
    const parts = await runCanvasClient(
      tuple[1].map(([[id]]) => ({ op: 'get', id, wait: 20 })),
      fleet.config,
    );
    expect(
      parts.map((p) => p.result),
      JSON.stringify(parts),
    ).toEqual([[2, 4], [6]]);
  });

  it('celery.chord_unlock polls the header results and then sends the body', async () => {
    const [a, b] = await runCanvasClient(
      [
        { op: 'send', name: 'tasks.add', args: [3, 3], options: { queue: 'ts' }, wait: 20 },
        { op: 'send', name: 'tasks.sleep', args: [4], options: { queue: 'py' } },
      ],
      fleet.config,
    );
    const bodyId = crypto.randomUUID();
    await runCanvasClient(
      [
        {
          op: 'send',
          name: 'celery.chord_unlock',
          args: [crypto.randomUUID(), sig('tasks.tsum', [], 'ts', bodyId)],
          kwargs: {
            interval: 0.2,
            result: [
              [[a?.id, null], null],
              [[b?.id, null], null],
            ],
          },
          options: { queue: 'ts' },
        },
      ],
      fleet.config,
    );
    const [body] = await runCanvasClient([{ op: 'get', id: bodyId, wait: 30 }], fleet.config);
    expect(body, fleet.tails()).toMatchObject({ ok: true, result: 6 + 4 });
    // It retried while tasks.sleep ran (Celery's chord_unlock retries with countdown=interval).
    await pollUntil(
      async () => (fleet.ts.program.output().includes('worker.chord_unlock_waiting') ? true : undefined),
      {
        what: 'a chord_unlock poll',
        timeoutMs: 5_000,
      },
    );
  });
});
