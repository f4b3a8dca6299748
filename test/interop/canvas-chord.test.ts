// Chords with the Redis result backend, both directions and across a mixed fleet: a Python client's
// chord on celeriac tasks, a celeriac client's chord on Python tasks, one chord whose header runs on
// both kinds of worker, and ChordError (with the body's errbacks) when a header part fails.
import { Chain, chord, RemoteTaskError, type Signature, signature } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type CanvasFleet, runCanvasClient, startCanvasFleet } from './canvas-support.js';

/** A signature of a task by name on one queue (the client need not register it). */
function sig(
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
): Signature {
  return signature(name, args, kwargs, options);
}

describe('chords across Python and celeriac', { timeout: 120_000 }, () => {
  let fleet: CanvasFleet;

  beforeAll(async () => {
    // Both workers also serve `mixed`: a chord sent there has its header parts on both.
    fleet = await startCanvasFleet({ pyQueues: ['py', 'mixed'], tsQueues: ['ts', 'mixed'] });
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('a Python client chord on celeriac tasks completes (tsum of add(i, i) for i < 5)', async () => {
    const header = [0, 1, 2, 3, 4].map((i) => ({ name: 'tasks.add', args: [i, i], options: { queue: 'ts' } }));
    const [line] = await runCanvasClient(
      [{ op: 'chord', header, body: { name: 'tasks.tsum', options: { queue: 'ts' } }, wait: 30 }],
      fleet.config,
    );
    expect(line, fleet.tails()).toMatchObject({ ok: true, result: 20, state: 'SUCCESS' });
    // The counters are gone once the body was sent, as Celery leaves them.
    const left = await fleet.backendDb.keys(`celery-taskset-meta-${line?.group_id}*`);
    expect(left).toEqual([]);
  });

  it('counts parts with the same Redis commands as a Python worker (MONITOR on both)', async () => {
    const monitor = new Redis(fleet.redis.url(1));
    const commands: string[][] = [];
    const m = await monitor.monitor();
    m.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => String(a).startsWith('celery-taskset-meta-'))) commands.push(args.map(String));
    });
    /** The chord commands of one Python-client chord run by the workers of `queue`, ids replaced. */
    async function chordCommands(queue: string): Promise<string[][]> {
      const [line] = await runCanvasClient(
        [
          {
            op: 'chord',
            header: [1, 2].map((i) => ({ name: 'tasks.add', args: [i, i], options: { queue } })),
            body: { name: 'tasks.tsum', options: { queue } },
            wait: 30,
          },
        ],
        fleet.config,
      );
      expect(line?.result, fleet.tails()).toBe(6);
      const gid = line?.group_id as string;
      const ids = [gid, ...((line?.ids ?? []) as string[])];
      await pollUntil(
        async () =>
          commands.some((c) => c[0]?.toLowerCase() === 'del' && c[1]?.endsWith(`${gid}.s`)) ? true : undefined,
        { what: `the chord cleanup commands (${queue})`, timeoutMs: 10_000 },
      );
      const mine = commands.filter((c) => c.some((a) => a.includes(gid)));
      commands.length = 0;
      return mine
        .map((c) =>
          c.map((a, i) => (i === 0 ? a.toLowerCase() : ids.reduce((t, id, k) => t.replaceAll(id, `<id${k}>`), a))),
        )
        .filter((c) => c[0] !== 'publish');
    }
    try {
      const onTs = await chordCommands('ts');
      const onPy = await chordCommands('py');
      // Celery's client stores the size just before sending the LAST header task, so the first part
      // may be counted before it: the SETEX is compared apart from the parts' order.
      const key = (s: string) => `celery-taskset-meta-<id0>${s}`;
      for (const run of [onTs, onPy])
        expect(run.filter((c) => c[0] === 'setex')).toEqual([['setex', key('.s'), '86400', '2']]);
      const part = (index: number, id: string, value: number) => [
        ['zadd', key('.j'), String(index), `[1, "${id}", "SUCCESS", ${value}]`],
        ['zcount', key('.j'), '-inf', '+inf'],
        ['get', key('.t')],
        ['get', key('.s')],
        ['expire', key('.j'), '86400'],
        ['expire', key('.t'), '86400'],
        ['expire', key('.s'), '86400'],
      ];
      const parts = (run: string[][]) => run.filter((c) => c[0] !== 'setex');
      // Parts may finish in either order; each is one MULTI block of seven commands.
      const blocks = (run: string[][]) => {
        const out = parts(run);
        const head = [out.slice(0, 7), out.slice(7, 14)].sort((a, b) =>
          String(a[0]?.[2]).localeCompare(String(b[0]?.[2])),
        );
        return [...head.flat(), ...out.slice(14)];
      };
      const expected = [
        ...part(0, '<id1>', 2),
        ...part(1, '<id2>', 4),
        ['get', key('')],
        ['zrange', key('.j'), '0', '-1'],
        ['del', key('.j')],
        ['del', key('.t')],
        ['del', key('.s')],
      ];
      expect(blocks(onPy)).toEqual(expected);
      // Ours is Celery's block with one command first: the part's earlier entry of the same index is
      // removed, so a part that runs again after a lost ack is not counted twice (canvas-chord-redelivery).
      const removes = onTs
        .filter((c) => c[0] === 'zremrangebyscore')
        .sort((a, b) => String(a[2]).localeCompare(String(b[2])));
      expect(removes).toEqual([
        ['zremrangebyscore', key('.j'), '0', '0'],
        ['zremrangebyscore', key('.j'), '1', '1'],
      ]);
      expect(blocks(onTs.filter((c) => c[0] !== 'zremrangebyscore'))).toEqual(expected);
    } finally {
      monitor.disconnect();
    }
  });

  it('a celeriac client chord on Python tasks completes, and its parent is the header GroupResult', async () => {
    const add = (a: number, b: number) => sig('tasks.add', [a, b], {}, { queue: 'py' });
    const result = await chord(
      [0, 1, 2, 3, 4].map((i) => add(i, i)),
      sig('tasks.tsum', [], {}, { queue: 'py' }),
      { app: fleet.app },
    ).applyAsync();
    expect(await result.get({ timeout: 30_000 })).toBe(20);
    const header = result.parent;
    expect(header).not.toBeNull();
    expect(header && 'results' in header ? await header.join({ timeout: 10_000 }) : null).toEqual([0, 2, 4, 6, 8]);
  });

  it('chord(header)(body) from celeriac on celeriac tasks', async () => {
    const add = (a: number, b: number) => sig('tasks.add', [a, b], {}, { queue: 'ts' });
    const result = await chord([add(1, 2), add(3, 4)], undefined, { app: fleet.app })(
      sig('tasks.tsum', [], {}, { queue: 'ts' }),
    );
    expect(await result.get({ timeout: 30_000 })).toBe(10);
  });

  it('a chord body that is a chain runs its steps after the join, on either kind of worker', async () => {
    for (const queue of ['ts', 'py']) {
      const body = new Chain([
        sig('tasks.tsum', [], {}, { queue }),
        sig('tasks.mul', [10], {}, { queue }),
      ]).toSignature();
      const result = await chord(
        [sig('tasks.add', [1, 1], {}, { queue }), sig('tasks.add', [2, 2], {}, { queue })],
        body,
        {
          app: fleet.app,
        },
      ).applyAsync();
      expect(await result.get({ timeout: 30_000 }), `${queue}: ${fleet.tails()}`).toBe(60);
    }
  });

  it('one chord whose header runs on a Python and a celeriac worker (one queue) completes, from both clients', async () => {
    const header = Array.from({ length: 12 }, () => ({
      name: 'tasks.record_sleep',
      args: [0.2],
      options: { queue: 'mixed' },
    }));
    const body = { name: 'tasks.echo', options: { queue: 'mixed' } };
    const [pyLine] = await runCanvasClient([{ op: 'chord', header, body, wait: 60 }], fleet.config);
    expect(pyLine?.ok, fleet.tails()).toBe(true);
    const fromTs = await chord(
      Array.from({ length: 12 }, () => sig('tasks.record_sleep', [0.2], {}, { queue: 'mixed' })),
      sig('tasks.echo', [], {}, { queue: 'mixed' }),
      { app: fleet.app },
    ).applyAsync();
    const tsValue = (await fromTs.get({ timeout: 60_000 })) as string[];
    const pyValue = pyLine?.result as string[];
    expect(pyValue).toHaveLength(12);
    expect(tsValue).toHaveLength(12);
    // Each part returns the tag of the worker that ran it: both kinds took part.
    expect(new Set([...pyValue, ...tsValue])).toEqual(new Set(['python', 'celeriac']));
  });

  it('a failing header part fails the body with ChordError on a celeriac worker, as on a Python one, and runs its errbacks', async () => {
    const ops = (queue: string) => ({
      op: 'chord',
      header: [
        { name: 'tasks.add', args: [1, 1], options: { queue } },
        { name: 'tasks.fail', options: { queue } },
        { name: 'tasks.add', args: [2, 2], options: { queue } },
      ],
      body: {
        name: 'tasks.tsum',
        options: { queue },
        on_error: { name: queue === 'ts' ? 'tasks.ts_on_error' : 'tasks.py_on_error', options: { queue } },
      },
      wait: 30,
    });
    const [sentTs, sentPy] = await runCanvasClient([ops('ts'), ops('py')], fleet.config);
    // Celery's client raises the failed header part's error first (the body's parent); the body's own
    // result holds the ChordError: read it by id, without the parent.
    const [onTs, onPy] = await runCanvasClient(
      [sentTs, sentPy].map((line) => ({ op: 'get', id: line?.id, wait: 30 })),
      fleet.config,
    );
    for (const [sent, line] of [
      [sentTs, onTs],
      [sentPy, onPy],
    ] as const) {
      expect(sent, fleet.tails()).toMatchObject({ ok: false, exc_type: 'ValueError' });
      expect(line, fleet.tails()).toMatchObject({ ok: false, exc_type: 'ChordError', state: 'FAILURE' });
      const failedId = ((sent?.ids ?? []) as string[])[1];
      expect(line?.exc_repr).toBe(`ChordError("Dependency ${failedId} raised ValueError('bad value', 42)")`);
    }
    // The body's errback was called Celery-5 style in the worker that found the failure.
    const records = await pollUntil(
      async () => {
        const all = await fleet.brokerDb.hgetall('canvas.errbacks');
        return all[onTs?.id as string] && all[onPy?.id as string] ? all : undefined;
      },
      { what: 'both chord errbacks', timeoutMs: 20_000, detail: () => fleet.tails() },
    );
    expect(JSON.parse(records[onTs?.id as string]!)).toMatchObject({
      worker: 'celeriac',
      style: 'new',
      request_id: onTs?.id,
      exc_type: 'ChordError',
    });
    expect(JSON.parse(records[onPy?.id as string]!)).toMatchObject({
      worker: 'python',
      style: 'new',
      request_id: onPy?.id,
      exc_type: 'ChordError',
    });
  });

  it('a celeriac client sees ChordError when a header part fails on a Python worker', async () => {
    const result = await chord(
      [sig('tasks.add', [1, 1], {}, { queue: 'py' }), sig('tasks.fail', [], {}, { queue: 'py' })],
      sig('tasks.tsum', [], {}, { queue: 'py' }),
      { app: fleet.app },
    ).applyAsync();
    // get() raises the failed part's own error first, as Celery's (_maybe_reraise_parent_error);
    // the body's own result is the ChordError.
    const error = await result.get({ timeout: 30_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect((error as RemoteTaskError).excType).toBe('ValueError');
    const own = await result.get({ timeout: 30_000, propagate: false });
    expect(own).toBeInstanceOf(RemoteTaskError);
    expect((own as RemoteTaskError).excType).toBe('ChordError');
    expect(String((own as RemoteTaskError).excMessage[0])).toMatch(
      /^Dependency [0-9a-f-]+ raised ValueError\('bad value', 42\)$/,
    );
  });
});
