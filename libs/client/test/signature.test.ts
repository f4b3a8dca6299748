import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { Celeriac } from '../src/celeriac.js';
import { chain, planChain } from '../src/chain.js';
import { signature } from '../src/signature.js';

const FIXTURES = CELERY_FIXTURES_DIR;
const body = (name: string) => JSON.parse(readFileSync(`${FIXTURES}/${name}.json`, 'utf8')).broker.message.body_decoded;

describe('signatures', () => {
  const app = new Celeriac('tasks');
  const add = app.task('wireapp.add', (a: number, b: number) => a + b);
  const mul = app.task('wireapp.mul', (a: number, b: number) => a * b);
  const onError = app.task('wireapp.on_error', () => undefined);

  it('task.s() has exactly the wire shape of a Celery signature', () => {
    const py = body('i_link_callback')[2];
    expect(JSON.parse(JSON.stringify(mul.s(10)))).toEqual(py.callbacks[0]);
    expect(JSON.parse(JSON.stringify(onError.s()))).toEqual(py.errbacks[0]);
    expect(mul.s(10)).toEqual(signature('wireapp.mul', [10]));
  });

  it('task.si() is immutable', () => {
    expect(mul.si(7)).toEqual({
      task: 'wireapp.mul',
      args: [7],
      kwargs: {},
      options: {},
      subtask_type: null,
      immutable: true,
    });
  });

  it('planChain lays out two and three steps like Celery (rest reversed, ids pre-assigned)', () => {
    for (const [fixtureName, steps] of [
      ['i2_chain_two', [add.s(1, 2), mul.s(10)]],
      ['i3_chain_three', [add.s(1, 2), mul.s(10), add.s(5)]],
    ] as const) {
      const py = body(fixtureName);
      const plan = planChain(steps);
      expect(plan.first.args).toEqual(py[0]);
      const strip = (s: { options: Record<string, unknown> }) => ({ ...s, options: {} });
      const pyChain = py[2].chain.map(strip);
      expect(plan.embedChain.map(strip)).toEqual(pyChain);
      const ids = plan.embedChain.map((s) => s.options.task_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(plan.lastId).toBe(plan.embedChain[0]!.options.task_id);
    }
  });

  it('keeps a task_id already set on a step and never mutates the caller signatures', () => {
    const last = { ...mul.s(10), options: { task_id: 'mine' } };
    const first = add.s(1, 2);
    const plan = planChain([first, last]);
    expect(plan.lastId).toBe('mine');
    expect(first.options).toEqual({});
  });

  it('a chain needs an app to be sent', async () => {
    await expect(chain(signature('x.y', [1])).applyAsync()).rejects.toThrow(/no app/);
    expect(() => planChain([])).toThrow(/at least one/);
  });
});
