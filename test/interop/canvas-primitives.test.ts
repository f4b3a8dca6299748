// group, map, starmap, chunks, GroupResult save/restore, forget, children and parent, in both
// directions: a Python client on celeriac tasks (queue `ts`) and a celeriac client on Python tasks (`py`).
import { GroupResult, group, signature, xmap, xstarmap } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type CanvasFleet, runCanvasClient, startCanvasFleet } from './canvas-support.js';

describe('canvas primitives across Python and celeriac', { timeout: 120_000 }, () => {
  let fleet: CanvasFleet;
  const add = (queue: string, a?: number, b?: number) =>
    signature('tasks.add', a === undefined ? [] : [a, b], {}, { queue });

  beforeAll(async () => {
    fleet = await startCanvasFleet();
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('Python client: group, map, starmap and chunks run on a celeriac worker', async () => {
    const lines = await runCanvasClient(
      [
        {
          op: 'group',
          tasks: [1, 2, 3].map((i) => ({ name: 'tasks.add', args: [i, i], options: { queue: 'ts' } })),
          wait: 30,
        },
        { op: 'map', task: 'tasks.echo', it: [1, 'two', [3]], options: { queue: 'ts' }, wait: 30 },
        {
          op: 'starmap',
          task: 'tasks.add',
          it: [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          options: { queue: 'ts' },
          wait: 30,
        },
        {
          op: 'chunks',
          task: 'tasks.add',
          it: Array.from({ length: 5 }, (_, i) => [i, i]),
          n: 2,
          options: { queue: 'ts' },
          wait: 30,
        },
      ],
      fleet.config,
    );
    const [g, m, s, c] = lines;
    expect(g, fleet.tails()).toMatchObject({
      ok: true,
      result: [2, 4, 6],
      completed: 3,
      ready: true,
      successful: true,
    });
    expect(m, fleet.tails()).toMatchObject({ ok: true, result: [1, 'two', [3]], state: 'SUCCESS' });
    expect(s, fleet.tails()).toMatchObject({ ok: true, result: [3, 7, 11], state: 'SUCCESS' });
    expect(c, fleet.tails()).toMatchObject({ ok: true, result: [[0, 2], [4, 6], [8]], completed: 3 });
    // Each group member carries the group id; a celeriac worker stores it as Celery does.
    const member = JSON.parse(
      (await fleet.backendDb.get(`celery-task-meta-${((g?.ids ?? []) as string[])[0]}`)) as string,
    );
    expect(member.group_id).toBe(g?.id);
  });

  it('celeriac client: group, map, starmap and chunks run on a Python worker', async () => {
    const g = await group(
      [1, 2, 3].map((i) => add('py', i, i)),
      { app: fleet.app },
    ).applyAsync();
    expect(g).toBeInstanceOf(GroupResult);
    expect(await g.get({ timeout: 30_000 })).toEqual([2, 4, 6]);
    expect(await g.completedCount()).toBe(3);
    expect(await g.ready()).toBe(true);
    expect(await g.successful()).toBe(true);

    // By name (the client need not register tasks.echo), the app given:
    const mapped = await xmap(signature('tasks.echo'), [1, 'two'], { app: fleet.app }).applyAsync({ queue: 'py' });
    expect(await mapped.get({ timeout: 30_000 })).toEqual([1, 'two']);

    const star = await xstarmap(
      signature('tasks.add'),
      [
        [1, 2],
        [3, 4],
      ],
      { app: fleet.app },
    ).applyAsync({ queue: 'py' });
    expect(await star.get({ timeout: 30_000 })).toEqual([3, 7]);

    const registered = fleet.app.task('tasks.add', (a: number, b: number) => a + b, { queue: 'py' });
    const chunked = await registered
      .chunks(
        Array.from({ length: 5 }, (_, i) => [i, i]),
        2,
      )
      .applyAsync();
    expect(await chunked.get({ timeout: 30_000 })).toEqual([[0, 2], [4, 6], [8]]);
    expect(await registered.map([[1, 1]]).toSignature().task).toBe('celery.map');
    const starred = await registered
      .starmap([
        [2, 3],
        [4, 5],
      ])
      .applyAsync();
    expect(await starred.get({ timeout: 30_000 })).toEqual([5, 9]);
  });

  it('a celeriac client sends group, map and chunks to a celeriac worker too', async () => {
    const g = await group([add('ts', 1, 1), add('ts', 2, 2)], { app: fleet.app }).applyAsync();
    expect(await g.join({ timeout: 30_000 })).toEqual([2, 4]);
    const mapped = await xmap(signature('tasks.echo'), ['a', 'b'], { app: fleet.app }).applyAsync({ queue: 'ts' });
    expect(await mapped.get({ timeout: 30_000 })).toEqual(['a', 'b']);
  });

  it('GroupResult.save/restore interoperate (celery-taskset-meta-<id>)', async () => {
    const g = await group([add('ts', 5, 5), add('ts', 6, 6)], { app: fleet.app }).applyAsync();
    await g.save();
    const [restoredByPy] = await runCanvasClient([{ op: 'restore_group', id: g.id, wait: 30 }], fleet.config);
    expect(restoredByPy).toMatchObject({ found: true, ids: g.results.map((r) => r.id), ok: true, result: [10, 12] });

    const [savedByPy] = await runCanvasClient(
      [
        {
          op: 'group',
          tasks: [7, 8].map((i) => ({ name: 'tasks.add', args: [i, i], options: { queue: 'py' } })),
          save: true,
          wait: 30,
        },
      ],
      fleet.config,
    );
    const restored = await GroupResult.restore(savedByPy?.id as string, fleet.app.AsyncResult(''));
    expect(restored?.results.map((r) => r.id)).toEqual(savedByPy?.ids);
    expect(await restored?.get({ timeout: 30_000 })).toEqual([14, 16]);
    await restored?.delete();
    expect(await GroupResult.restore(savedByPy?.id as string, fleet.app.AsyncResult(''))).toBeNull();
  });

  it('forget deletes a result in both directions', async () => {
    const onPy = await fleet.app.sendTask('tasks.add', [1, 2], {}, { queue: 'py' });
    expect(await onPy.get({ timeout: 30_000 })).toBe(3);
    await onPy.forget();
    expect(await fleet.backendDb.exists(`celery-task-meta-${onPy.id}`)).toBe(0);
    expect((await fleet.app.AsyncResult(onPy.id).refresh()).state).toBe('PENDING');

    const [sent] = await runCanvasClient(
      [{ op: 'send', name: 'tasks.add', args: [2, 2], options: { queue: 'ts' }, wait: 30 }],
      fleet.config,
    );
    expect(sent?.result).toBe(4);
    const [forgotten] = await runCanvasClient([{ op: 'forget', id: sent?.id }], fleet.config);
    expect(forgotten?.state).toBe('PENDING');
    expect(await fleet.backendDb.exists(`celery-task-meta-${sent?.id}`)).toBe(0);
  });

  it('children and parent: a chain result knows its parents, a finished step its children', async () => {
    const sent = await fleet.app.chain(add('ts', 1, 2), signature('tasks.add', [10], {}, { queue: 'ts' })).applyAsync();
    expect(await sent.get({ timeout: 30_000 })).toBe(13);
    const first = sent.parent;
    expect(first).not.toBeNull();
    if (first === null || first instanceof GroupResult) throw new Error('the chain result has no task parent');
    // The first step's result is stored after its next step was sent: under load the chain may end first.
    const children = await pollUntil(async () => (await first.refresh()).children ?? undefined, {
      what: 'the first step result with its children',
    });
    expect(children.map((c) => c.id)).toEqual([sent.id]);
  });
});
