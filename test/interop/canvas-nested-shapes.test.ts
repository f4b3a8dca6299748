// Nested canvas shapes as Celery 5.2 builds them, both directions. First the wire: for each shape
// (chain in group, group in chain -> chord, chord in chain, chord header with chains, groups and
// chords, group of groups, chain of chains, chains ending in a group, empty chord header, `si`)
// Python's published messages (test/interop/py/canvas_capture.py, no worker) and ours are compared
// field by field with ids replaced by labels, and so is what a worker sends next (a chain's next
// step, a chord body). Then the same canvases run: Python's result on Python workers is the
// reference; our client on a mixed fleet and Python's client on celeriac workers must get it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  asSignature,
  type CanvasLike,
  Celeriac,
  Chain,
  chord,
  chunks,
  GroupResult,
  group,
  planCanvas,
  resultFromTuple,
  type Signature,
  sendPlan,
  signature,
} from '@celeriac/client';
import type { ResultTuple } from '@celeriac/result-backend';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTASKS_DIR, PYTHON } from '../support/celery-worker.js';
import { type CanvasFleet, type CanvasLine, runCanvasClient, startCanvasFleet } from './canvas-support.js';

/** A canvas as canvas_client.py and canvas_capture.py read it. */
type Node =
  | { name: string; args?: unknown[]; immutable?: boolean; options?: Record<string, unknown> }
  | { chain: Node[]; link?: Node; link_error?: Node }
  | { group: Node[] }
  | { chord: Node[]; body: Node }
  | { chunks: { name: string; it: unknown[][]; n: number }; options?: Record<string, unknown> };

const t = (name: string, ...args: unknown[]): Node => ({ name, args });
const si = (name: string, ...args: unknown[]): Node => ({ name, args, immutable: true });

/** The shapes whose messages are compared (task names need no worker: nothing consumes them). */
const WIRE_SHAPES: Record<string, Node> = {
  group_in_chain_becomes_chord: { chain: [t('a', 1), { group: [t('b', 2), t('c', 3)] }, t('d')] },
  chain_in_group: { group: [{ chain: [t('a', 1), t('b')] }, t('c', 3)] },
  chord_in_chain: { chain: [t('a', 1), { chord: [t('b'), t('c')], body: t('d') }, t('e')] },
  chord_header_chain: { chord: [{ chain: [t('a', 1), t('b')] }, t('c', 2)], body: t('d') },
  chord_header_group: { chord: [t('a', 1), { group: [t('b', 2), t('c', 3)] }, t('d', 4)], body: t('e') },
  chord_in_chord_header: { chord: [{ chord: [t('a', 1), t('b', 2)], body: t('c') }, t('d', 4)], body: t('e') },
  group_of_groups: { group: [t('a', 1), { group: [t('b', 2), t('c', 3)] }, t('d', 4)] },
  chain_of_chains: { chain: [{ chain: [t('a', 1), t('b')] }, { chain: [t('c'), t('d')] }] },
  chain_ending_group: { chain: [t('a', 1), { group: [t('b'), t('c')] }] },
  chain_ending_group_in_group: { group: [{ chain: [t('a', 1), { group: [t('b'), t('c')] }] }, t('d', 4)] },
  chord_empty_header: { chord: [], body: t('d', 5) },
  si_in_chord_upgrade: { chain: [t('a', 1), { group: [si('b', 2), si('c', 3)] }, si('d', 9)] },
  group_then_group: { chain: [t('a', 1), { group: [t('b'), t('c')] }, { group: [t('d'), t('e')] }] },
  group_then_chord: { chain: [t('a', 1), { group: [t('b'), t('c')] }, { chord: [t('d'), t('e')], body: t('f') }] },
  chord_body_chain_in_chain: { chain: [t('a', 1), { chord: [t('b'), t('c')], body: { chain: [t('d'), t('e')] } }] },
  chord_body_group: { chord: [t('a', 1), t('b', 2)], body: { group: [t('c'), t('d')] } },
  chord_in_group: { group: [{ chord: [t('a', 1), t('b', 2)], body: t('c') }, t('d', 4)] },
  chain_in_group_in_chain: { chain: [t('a', 1), { group: [{ chain: [t('b'), t('c')] }, t('d')] }] },
  chain_in_group_then_task: { chain: [t('a', 1), { group: [{ chain: [t('b'), t('c')] }, t('d')] }, t('e')] },
  chord_header_chain_in_chain: { chain: [t('a', 1), { chord: [{ chain: [t('b'), t('c')] }, t('d')], body: t('e') }] },
  chunks_in_chain: {
    chain: [
      t('a', 1),
      {
        chunks: {
          name: 'x',
          it: [
            [1, 2],
            [3, 4],
          ],
          n: 1,
        },
      },
    ],
  },
  // chain.run: link on the last step (a chord's options), link_error on every step (a chord's body).
  chain_callbacks: { chain: [t('a', 1), t('b')], link: t('cb'), link_error: t('eb') },
  chord_upgrade_callbacks: {
    chain: [t('a', 1), { group: [t('b'), t('c')] }, t('d')],
    link: t('cb'),
    link_error: t('eb'),
  },
};

const add = (...args: number[]) => t('tasks.add', ...args);
const tsum = t('tasks.tsum');

/**
 * The shapes that run, with the result Celery 5.2 computes for each (checked against Python too).
 * `pyCannotWait`: Celery 5.2's own `GroupResult.get()` on the body group of `chain(a, group, group)`
 * times out when it starts before the members' results exist (on Python workers too), so the
 * result the Python client made (its `as_tuple()`) is read by our client instead.
 */
const RUN_SHAPES: Record<string, { node: Node; expected: unknown; pyCannotWait?: boolean }> = {
  chord_in_chord_header: {
    node: { chord: [{ chord: [add(1, 1), add(2, 2)], body: tsum }, add(3, 3)], body: tsum },
    expected: 12,
  },
  group_then_group: {
    node: { chain: [add(1, 1), { group: [add(1), add(2)] }, { group: [tsum, tsum] }] },
    expected: [7, 7],
    pyCannotWait: true,
  },
  group_then_chord: {
    node: { chain: [add(1, 1), { group: [add(1), add(2)] }, { chord: [tsum, tsum], body: tsum }] },
    expected: 14,
  },
  chord_body_chain: {
    node: { chain: [add(1, 1), { chord: [add(1), add(2)], body: { chain: [tsum, add(10)] } }] },
    expected: 17,
  },
  chain_in_group_then_task: {
    node: { chain: [add(1, 1), { group: [{ chain: [add(1), add(2)] }, add(3)] }, tsum] },
    expected: 10,
  },
  // Celery's _freeze_unroll puts a nested group's members in reverse order: [1, 3, 2, 4].
  chord_header_group_order: {
    node: {
      chord: [t('tasks.echo', 1), { group: [t('tasks.echo', 2), t('tasks.echo', 3)] }, t('tasks.echo', 4)],
      body: t('tasks.echo'),
    },
    expected: [1, 3, 2, 4],
  },
  chord_in_chain: { node: { chain: [add(1, 1), { chord: [add(1), add(2)], body: tsum }, add(100)] }, expected: 107 },
  chord_empty_header: { node: { chord: [], body: tsum }, expected: 0 },
  chain_of_chains_si: {
    node: { chain: [{ chain: [add(1, 1), add(1)] }, { chain: [si('tasks.add', 5, 5), add(1)] }] },
    expected: 11,
  },
  chord_in_group: { node: { group: [{ chord: [add(1, 1), add(2, 2)], body: tsum }, add(3, 3)] }, expected: [6, 6] },
  chain_ending_group_in_group: {
    node: { group: [{ chain: [add(1, 1), { group: [add(1), add(2)] }] }, add(4, 4)] },
    expected: [[3, 4], 8],
  },
  chord_body_group: { node: { chord: [add(1, 1), add(2, 2)], body: { group: [tsum, tsum] } }, expected: [6, 6] },
  si_in_chord_upgrade: {
    node: { chain: [add(1, 1), { group: [si('tasks.add', 2, 2), si('tasks.add', 3, 3)] }, tsum] },
    expected: 10,
  },
  chord_header_chain_and_chord: {
    node: { chord: [{ chain: [add(1, 1), add(5)] }, { chord: [add(1, 1), add(1, 1)], body: tsum }], body: tsum },
    expected: 11,
  },
  // The chunks step is a celery.chunks task: its result is the tuple of the group it sent (ids labelled).
  chunks_in_chain: {
    node: {
      chain: [
        add(1, 1),
        {
          chunks: {
            name: 'tasks.add',
            it: [
              [1, 2],
              [3, 4],
            ],
            n: 1,
          },
        },
      ],
    },
    expected: [
      ['#1', null],
      [
        [['#2', null], null],
        [['#3', null], null],
      ],
    ],
  },
  group_of_groups: { node: { group: [add(1, 1), { group: [add(2, 2), add(3, 3)] }] }, expected: [2, 4, 6] },
};

/** The node with every task sent to the queue `pick` names (called once per task, in order). */
function onQueues(node: Node, pick: () => string): Node {
  if ('chain' in node) return { chain: node.chain.map((n) => onQueues(n, pick)) };
  if ('group' in node) return { group: node.group.map((n) => onQueues(n, pick)) };
  if ('chord' in node) return { chord: node.chord.map((n) => onQueues(n, pick)), body: onQueues(node.body, pick) };
  if ('chunks' in node) return { ...node, options: { ...node.options, queue: pick() } };
  return { ...node, options: { ...node.options, queue: pick() } };
}

function alternating(): () => string {
  let n = 0;
  return () => (n++ % 2 === 0 ? 'py' : 'ts');
}

type Sendable = Chain<never> | ReturnType<typeof group> | ReturnType<typeof chord>;

/** Our canvas for a node. */
function build(node: Node, app: Celeriac): CanvasLike & { applyAsync?: () => Promise<unknown> } {
  if ('chain' in node)
    return new Chain(
      node.chain.map((n) => build(n, app)),
      app,
    );
  if ('group' in node)
    return group(
      node.group.map((n) => build(n, app)),
      { app },
    );
  if ('chord' in node)
    return chord(
      node.chord.map((n) => build(n, app)),
      build(node.body, app),
      { app },
    );
  if ('chunks' in node) {
    const sig = chunks(signature(node.chunks.name), node.chunks.it, node.chunks.n, { app }).toSignature();
    return { ...sig, options: { ...sig.options, ...node.options } };
  }
  return signature(node.name, node.args ?? [], {}, node.options ?? {}, node.immutable === true);
}

async function send(node: Node, app: Celeriac): Promise<{ get(o: { timeout: number }): Promise<unknown> }> {
  const callbacks: Record<string, Signature> = {};
  if ('chain' in node) {
    if (node.link) callbacks.link = build(node.link, app) as Signature;
    if (node.link_error) callbacks.link_error = build(node.link_error, app) as Signature;
  }
  const canvas = build(node, app) as unknown as Sendable;
  const sent = canvas instanceof Chain ? canvas.applyAsync(callbacks) : canvas.applyAsync();
  return sent as Promise<{
    get(o: { timeout: number }): Promise<unknown>;
  }>;
}

// --- the wire ---------------------------------------------------------------------------------

interface Capture {
  shape: string;
  type: string;
  tuple: unknown;
  messages: Record<string, unknown>[];
  backend: Record<string, string>;
  /** What a worker sends next, per step; `{ error }` where Celery's own worker fails to send it. */
  step2: (Record<string, unknown>[] | { error: string })[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Options Python adds that say nothing about the canvas (the client's reply queue, add_to_parent). */
const NOISE = new Set(['reply_to', 'add_to_parent']);
const NULL_MEANS_UNSET = new Set([
  'root_id',
  'parent_id',
  'group_id',
  'chord',
  'group_index',
  'chain',
  'link',
  'link_error',
]);

function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (NOISE.has(k) || (v === null && NULL_MEANS_UNSET.has(k))) continue;
    out[k] = clean(v);
  }
  return out;
}

function cleanMessages(messages: Record<string, unknown>[], dropLineage: boolean): unknown[] {
  return messages.map((m) => {
    const c = clean(m) as Record<string, unknown>;
    const embed = c.embed as Record<string, unknown>;
    c.embed = Object.fromEntries(
      Object.entries(embed).filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0)),
    );
    if (dropLineage) {
      delete c.root_id;
      delete c.parent_id;
    }
    return c;
  });
}

/** Stored values as data (a saved group is JSON; Python writes it with spaces, we without). */
function parsedValues(keys: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(keys).map(([k, v]) => {
      try {
        return [k, JSON.parse(v)];
      } catch {
        return [k, v];
      }
    }),
  );
}

/** Ids replaced by labels in order of first appearance, so two captures compare by structure. */
function labelled(value: unknown): unknown {
  const labels = new Map<string, string>();
  const text = JSON.stringify(value).replace(UUID, (id) => {
    if (!labels.has(id)) labels.set(id, `#${labels.size + 1}`);
    return labels.get(id) as string;
  });
  return JSON.parse(text);
}

/**
 * A capture as compared: the first messages with the canvas result and chord sizes, labelled
 * together; each next-step batch labelled on its own. Celery's worker re-creates a chord header's
 * group id when it sends a chord it read from a message (its `_maybe_group` drops the header's
 * `task_id`); ours keeps the id the client's result already names, so a batch's ids are compared
 * by structure only.
 */
function comparable(c: Capture): unknown {
  return {
    first: labelled({
      type: c.type,
      messages: cleanMessages(c.messages, false),
      tuple: c.tuple,
      backend: parsedValues(c.backend),
    }),
    next: c.step2.map((batch) => (Array.isArray(batch) ? labelled(cleanMessages(batch, true)) : batch)),
  };
}

function capturePython(url: string, shapes: Record<string, Node>): Promise<Capture[]> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [path.join(PYTASKS_DIR, 'canvas_capture.py'), url, JSON.stringify(shapes)],
      { cwd: PYTASKS_DIR, timeout: 30_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`canvas_capture.py failed (${err.message}):\n${stderr}`));
        else
          resolve(
            stdout
              .split('\n')
              .filter((l) => l.trim() !== '')
              .map((l) => JSON.parse(l) as Capture),
          );
      },
    );
  });
}

async function readQueue(redis: Redis): Promise<Record<string, unknown>[]> {
  const raws = (await redis.lrange('celery', 0, -1)).reverse();
  await redis.del('celery');
  return raws.map((raw) => {
    const m = JSON.parse(raw) as { headers: Record<string, unknown>; body: string };
    const h = m.headers;
    const [args, kwargs, embed] = JSON.parse(Buffer.from(m.body, 'base64').toString()) as unknown[];
    return {
      task: h.task,
      id: h.id,
      args,
      kwargs,
      group: h.group ?? null,
      group_index: h.group_index ?? null,
      root_id: h.root_id ?? null,
      parent_id: h.parent_id ?? null,
      embed,
    };
  });
}

function tupleOf(r: { id: string; parent: unknown; results?: unknown[] }): unknown {
  const parent = r.parent ? tupleOf(r.parent as never) : null;
  if (r instanceof GroupResult) return [[r.id, parent], r.results.map((x) => tupleOf(x as never))];
  return [[r.id, parent], null];
}

/** What our client publishes for each shape, and what our canvas planner sends next (as the worker does). */
async function captureOurs(url: string, shapes: Record<string, Node>): Promise<Capture[]> {
  const app = new Celeriac('capture', { broker_url: `${url}/4`, result_backend: `${url}/5` });
  const broker = new Redis(`${url}/4`);
  const backend = new Redis(`${url}/5`);
  const out: Capture[] = [];
  try {
    for (const [shape, node] of Object.entries(shapes)) {
      await Promise.all([broker.flushdb(), backend.flushdb()]);
      const result = (await send(node, app)) as unknown as { id: string; parent: unknown };
      const messages = await readQueue(broker);
      const keys: Record<string, string> = {};
      for (const k of await backend.keys('*'))
        if ((await backend.type(k)) === 'string') keys[k] = (await backend.get(k)) as string;
      const step2: Record<string, unknown>[][] = [];
      const parts = messages.filter((m) => (m.embed as { chord?: unknown }).chord);
      for (const m of messages) {
        const embed = m.embed as { chain?: unknown[] | null; chord?: unknown };
        const rest = [...(embed.chain ?? [])];
        if (rest.length > 0) {
          const next = asSignature(rest.pop());
          await sendPlan(app, planCanvas(next, [7], undefined, { chain: rest.map(asSignature) }));
          step2.push(await readQueue(broker));
        } else if (parts.length > 0 && m.id === parts[parts.length - 1]?.id) {
          await sendPlan(app, planCanvas(asSignature(embed.chord), [[1, 2]]));
          step2.push(await readQueue(broker));
        }
      }
      out.push({
        shape,
        type: result instanceof GroupResult ? 'GroupResult' : 'AsyncResult',
        tuple: tupleOf(result),
        messages,
        backend: keys,
        step2,
      });
    }
  } finally {
    await app.close();
    broker.disconnect();
    backend.disconnect();
  }
  return out;
}

describe('nested canvas shapes: Celery 5.2 parity', { timeout: 120_000 }, () => {
  let fleet: CanvasFleet;

  beforeAll(async () => {
    fleet = await startCanvasFleet();
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('our client publishes what Celery publishes for every nested shape, and sends the same next steps', async () => {
    const url = `redis://127.0.0.1:${fleet.redis.port}`;
    const python = await capturePython(url, WIRE_SHAPES);
    const ours = await captureOurs(url, WIRE_SHAPES);
    expect(ours.map((c) => c.shape)).toEqual(python.map((c) => c.shape));
    for (let i = 0; i < python.length; i++) {
      const py = python[i] as Capture;
      const mine = comparable(ours[i] as Capture) as { first: unknown; next: unknown[] };
      const theirs = comparable(py) as { first: unknown; next: unknown[] };
      expect(mine.first, py.shape).toEqual(theirs.first);
      // Celery 5.2's worker cannot send a chord step that has a link (its chord.run hands the link to
      // the header group, which raises); ours gives the link to the body, as the first layer says.
      const broken = theirs.next.findIndex((b) => !Array.isArray(b));
      if (broken === -1) expect(mine.next, py.shape).toEqual(theirs.next);
      else
        expect([py.shape, String((theirs.next[broken] as { error: string }).error)]).toEqual([
          'chord_upgrade_callbacks',
          "TypeError('Cannot add link to group: use a chord')",
        ]);
    }
    // The structure checked is real: the chord in a chord header counts in the outer chord through its body.
    const inner = python.find((c) => c.shape === 'chord_in_chord_header')?.messages[0]?.embed as { chord: Signature };
    expect(inner.chord.options).toMatchObject({ group_index: 0, chord: { task: 'e' } });
  });

  it('each shape runs to the result Python computes: our client on a mixed fleet, Python on celeriac workers and on a mixed fleet', async () => {
    const names = Object.keys(RUN_SHAPES);
    const ops = (queue: () => () => string) =>
      names.map((name) => {
        const shape = RUN_SHAPES[name] as { node: Node; pyCannotWait?: boolean };
        return {
          op: 'canvas',
          ref: name,
          canvas: onQueues(shape.node, queue()),
          ...(shape.pyCannotWait ? {} : { wait: 30 }),
        };
      });
    /** What Python's client got, or for a shape it cannot wait on, what its result reads once ready. */
    const pythonRun = async (lines: CanvasLine[]) =>
      Promise.all(
        lines.map(async (line, i) => {
          if (!(RUN_SHAPES[names[i] as string] as { pyCannotWait?: boolean }).pyCannotWait) return line;
          const handle = fleet.app.AsyncResult('');
          const result = resultFromTuple(line.tuple as ResultTuple, () => handle.resultSource);
          return result.get({ timeout: 30_000 }).then(
            (value) => ({ ok: true, result: value }),
            (error: unknown) => ({ ok: false, result: String(error) }),
          );
        }),
      );
    const [reference, onCeleriac, onMixed, ours] = await Promise.all([
      runCanvasClient(
        ops(() => () => 'py'),
        fleet.config,
      ).then(pythonRun),
      runCanvasClient(
        ops(() => () => 'ts'),
        fleet.config,
      ).then(pythonRun),
      runCanvasClient(ops(alternating), fleet.config).then(pythonRun),
      Promise.all(
        names.map(async (name) => {
          const result = await send(onQueues((RUN_SHAPES[name] as { node: Node }).node, alternating()), fleet.app);
          return result.get({ timeout: 30_000 }).then(
            (value) => ({ ok: true, result: value }),
            (error: unknown) => ({ ok: false, result: String(error) }),
          );
        }),
      ),
    ]);
    const outcome = (line: { ok?: boolean; result?: unknown; exc_type?: string; exc_repr?: string } | undefined) =>
      line?.ok ? labelled(line.result) : `failed: ${line?.exc_type ?? ''} ${line?.exc_repr ?? String(line?.result)}`;
    const got = names.map((name, i) => ({
      name,
      python: outcome(reference[i]),
      pythonOnCeleriac: outcome(onCeleriac[i]),
      pythonOnMixedFleet: outcome(onMixed[i]),
      oursOnMixedFleet: outcome(ours[i]),
    }));
    const want = names.map((name) => {
      const expected = (RUN_SHAPES[name] as { expected: unknown }).expected;
      return {
        name,
        python: expected,
        pythonOnCeleriac: expected,
        pythonOnMixedFleet: expected,
        oursOnMixedFleet: expected,
      };
    });
    expect(got, fleet.tails()).toEqual(want);
  });
});
