// Nested canvases across Python and celeriac, both directions: a group followed by a task in a chain
// (Celery turns it into a chord), a group as a chain's last step, a chain inside a group, a chain
// inside a chord header (its last task is the part that counts), and `get()` on a chord body whose
// header part failed (the part's own error, as Celery 5.2's `_maybe_reraise_parent_error`).
import {
  AsyncResult,
  Chain,
  chord,
  GroupResult,
  group,
  RemoteTaskError,
  type Signature,
  signature,
} from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CanvasFleet, type PySpec, runCanvasClient, startCanvasFleet } from './canvas-support.js';

/** A signature on one queue (the client need not register the task). */
function on(queue: string, name: string, ...args: unknown[]): Signature {
  return signature(name, args, {}, { queue });
}

function py(queue: string, name: string, ...args: unknown[]): PySpec {
  return { name, args, options: { queue } };
}

describe('nested canvases across Python and celeriac', { timeout: 180_000 }, () => {
  let fleet: CanvasFleet;
  const tsig = on;

  beforeAll(async () => {
    fleet = await startCanvasFleet();
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  describe('celeriac client', () => {
    it('chain(a, group(b, c), d) runs as a chord: d gets [b, c]; the result is d with parents group -> a', async () => {
      const app = fleet.app;
      const canvas = new Chain(
        [
          tsig('ts', 'tasks.add', 1, 1),
          group([tsig('py', 'tasks.add', 10), tsig('ts', 'tasks.add', 20)], { app }),
          tsig('py', 'tasks.tsum'),
        ],
        app,
      );
      const result = await canvas.applyAsync();
      expect(result).toBeInstanceOf(AsyncResult);
      expect(await result.get({ timeout: 60_000 }), fleet.tails()).toBe(34);
      const header = result.parent;
      expect(header).toBeInstanceOf(GroupResult);
      expect(await (header as GroupResult).get({ timeout: 10_000 })).toEqual([12, 22]);
      expect(header?.parent).toBeInstanceOf(AsyncResult);
      expect(await ((header as GroupResult).parent as AsyncResult).get({ timeout: 10_000 })).toBe(2);
    });

    it('chain(a, group(b, c), d) with a on the Python worker: Celery reads our chord step and sends it', async () => {
      const app = fleet.app;
      const result = await new Chain(
        [
          tsig('py', 'tasks.add', 2, 2),
          group([tsig('ts', 'tasks.add', 1), tsig('py', 'tasks.add', 2)], { app }),
          tsig('ts', 'tasks.tsum'),
        ],
        app,
      ).applyAsync();
      expect(await result.get({ timeout: 60_000 }), fleet.tails()).toBe(11);
    });

    it('chain(a, group(b, c)) resolves to the GroupResult (parent a)', async () => {
      const app = fleet.app;
      const result = await new Chain<GroupResult>(
        [tsig('py', 'tasks.add', 1, 1), group([tsig('ts', 'tasks.add', 1), tsig('py', 'tasks.add', 2)], { app })],
        app,
      ).applyAsync();
      expect(result).toBeInstanceOf(GroupResult);
      expect(await result.get({ timeout: 60_000 }), fleet.tails()).toEqual([3, 4]);
      expect(await (result.parent as AsyncResult).get({ timeout: 10_000 })).toBe(2);
    });

    it('group(chain(a, b), c): the chain member resolves to its last task, with its parent', async () => {
      const app = fleet.app;
      const result = await group(
        [new Chain([tsig('py', 'tasks.add', 1, 1), tsig('ts', 'tasks.add', 5)], app), tsig('py', 'tasks.add', 2, 2)],
        { app },
      ).applyAsync();
      expect(await result.get({ timeout: 60_000 }), fleet.tails()).toEqual([7, 4]);
      const member = result.results[0] as AsyncResult;
      expect(await (member.parent as AsyncResult).get({ timeout: 10_000 })).toBe(2);
    });

    it('chord([chain(a, b), c])(d): the chain part counts once, through its last task', async () => {
      const app = fleet.app;
      const result = await chord(
        [new Chain([tsig('ts', 'tasks.add', 1, 1), tsig('py', 'tasks.add', 5)], app), tsig('ts', 'tasks.add', 2, 2)],
        undefined,
        { app },
      )(tsig('ts', 'tasks.tsum'));
      expect(await result.get({ timeout: 60_000 }), fleet.tails()).toBe(11);
    });
  });

  describe('Python client, Celery 5.2', () => {
    it('chain(a, group(b, c), d): the celeriac worker that runs a sends the chord; Python gets 34', async () => {
      const [line] = await runCanvasClient(
        [
          {
            op: 'canvas',
            canvas: {
              chain: [
                py('ts', 'tasks.add', 1, 1),
                { group: [py('py', 'tasks.add', 10), py('ts', 'tasks.add', 20)] },
                py('ts', 'tasks.tsum'),
              ],
            },
            wait: 60,
          },
        ],
        fleet.config,
      );
      expect(line, fleet.tails()).toMatchObject({ type: 'AsyncResult', ok: true, result: 34, state: 'SUCCESS' });
    });

    it('chain(a, group(b, c)) from Python: the celeriac worker sends the group; Python joins [3, 4]', async () => {
      const [line] = await runCanvasClient(
        [
          {
            op: 'canvas',
            canvas: {
              chain: [py('ts', 'tasks.add', 1, 1), { group: [py('ts', 'tasks.add', 1), py('py', 'tasks.add', 2)] }],
            },
            wait: 60,
          },
        ],
        fleet.config,
      );
      expect(line, fleet.tails()).toMatchObject({ type: 'GroupResult', ok: true, result: [3, 4] });
    });

    it('chord([chain(a, b), c])(d) from Python: celeriac runs a, sends b as a header part; the join counts it', async () => {
      const [line] = await runCanvasClient(
        [
          {
            op: 'canvas',
            canvas: {
              chord: [{ chain: [py('ts', 'tasks.add', 1, 1), py('ts', 'tasks.add', 5)] }, py('py', 'tasks.add', 2, 2)],
              body: py('ts', 'tasks.tsum'),
            },
            wait: 60,
          },
        ],
        fleet.config,
      );
      expect(line, fleet.tails()).toMatchObject({ type: 'AsyncResult', ok: true, result: 11, state: 'SUCCESS' });
    });

    it('group(chain(a, b), c) from Python on celeriac workers: [7, 4]', async () => {
      const [line] = await runCanvasClient(
        [
          {
            op: 'canvas',
            canvas: {
              group: [{ chain: [py('ts', 'tasks.add', 1, 1), py('ts', 'tasks.add', 5)] }, py('ts', 'tasks.add', 2, 2)],
            },
            wait: 60,
          },
        ],
        fleet.config,
      );
      expect(line, fleet.tails()).toMatchObject({ type: 'GroupResult', ok: true, result: [7, 4] });
    });
  });

  describe('a chain in a chord header whose first step fails', () => {
    it('celeriac counts the chain part as failed (mark_as_failure), so the body fails instead of hanging', async () => {
      const app = fleet.app;
      const result = await chord(
        [new Chain([tsig('ts', 'tasks.fail'), tsig('ts', 'tasks.add', 5)], app), tsig('ts', 'tasks.add', 2, 2)],
        tsig('ts', 'tasks.tsum'),
        { app },
      ).applyAsync();
      const own = (await result.get({ timeout: 60_000, propagate: false })) as RemoteTaskError;
      expect(own, fleet.tails()).toBeInstanceOf(RemoteTaskError);
      expect(own.excType).toBe('ChordError');
      expect(String(own.excMessage[0])).toMatch(/raised ValueError\('bad value', 42\)$/);
    });

    it('the same chord sent by Python, failing step on celeriac: Python sees the failure, not a timeout', async () => {
      const [line] = await runCanvasClient(
        [
          {
            op: 'canvas',
            canvas: {
              chord: [{ chain: [py('ts', 'tasks.fail'), py('ts', 'tasks.add', 5)] }, py('ts', 'tasks.add', 2, 2)],
              body: py('ts', 'tasks.tsum'),
            },
            sleep: 3,
            wait: 30,
          },
        ],
        fleet.config,
      );
      expect(line, fleet.tails()).toMatchObject({ ok: false, exc_type: 'ValueError', state: 'FAILURE' });
    });
  });

  describe('get() on a chord body whose header part failed', () => {
    const header = (queue: string): PySpec[] => [
      py(queue, 'tasks.add', 1, 1),
      py(queue, 'tasks.fail_custom', 'part broke'),
    ];

    it('Python raises the part own error (InteropError), not the body ChordError', async () => {
      const [line] = await runCanvasClient(
        [{ op: 'canvas', canvas: { chord: header('ts'), body: py('ts', 'tasks.tsum') }, sleep: 3, wait: 30 }],
        fleet.config,
      );
      expect(line, fleet.tails()).toMatchObject({ ok: false, exc_type: 'InteropError' });
      expect(line?.exc_repr).toContain('part broke');
    });

    it('our client does the same: the part error first, the ChordError with propagate: false', async () => {
      const app = fleet.app;
      const result = await chord(
        [tsig('py', 'tasks.add', 1, 1), on('py', 'tasks.fail_custom', 'part broke')],
        tsig('ts', 'tasks.tsum'),
        { app },
      ).applyAsync();
      const error = await result.get({ timeout: 60_000 }).then(
        () => null,
        (e: unknown) => e as RemoteTaskError,
      );
      expect(error, fleet.tails()).toBeInstanceOf(RemoteTaskError);
      const part = ((result.parent as GroupResult).results[1] as AsyncResult).id;
      expect([error?.excType, error?.taskId, error?.excMessage[0]]).toEqual(['InteropError', part, 'part broke']);
      const own = (await result.get({ timeout: 10_000, propagate: false })) as RemoteTaskError;
      expect([own.excType, own.taskId]).toEqual(['ChordError', result.id]);
      expect(result.state).toBe('FAILURE');
    });
  });
});
