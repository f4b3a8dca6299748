import type { Signature } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import type { ApplyOptions } from '../src/apply-options.js';
import { AsyncResult } from '../src/async-result.js';
import { chain } from '../src/chain.js';
import { Task, type TaskSender } from '../src/task.js';

/** A sender that records what a Task asks of it: the whole seam between Task and the app. */
class RecordingSender implements TaskSender {
  readonly calls: unknown[][] = [];
  private readonly result = new AsyncResult('r-1', () => {
    throw new Error('not read in this test');
  });

  async applyTask(name: string, args: unknown[], kwargs: Record<string, unknown>, options?: ApplyOptions) {
    this.calls.push(['applyTask', name, args, kwargs, options]);
    return this.result;
  }

  async applyTaskMany(name: string, argsList: readonly unknown[][], options?: ApplyOptions) {
    this.calls.push(['applyTaskMany', name, argsList, options]);
    return [this.result];
  }

  async applyChain(steps: readonly Signature[], options?: ApplyOptions) {
    this.calls.push(['applyChain', steps.map((s) => s.task), options]);
    return this.result;
  }
}

describe('Task over a TaskSender (no app, no Redis)', () => {
  it('delay, applyAsync and applyMany go to the sender with the task name', async () => {
    const sender = new RecordingSender();
    const add = new Task(sender, 't.add', (a: number, b: number) => a + b, { queue: 'q' });
    await add.delay(1, 2);
    await add.applyAsync([3], { k: 1 }, { countdown: 5 });
    await add.applyMany([[1], [2]], { priority: 1 });
    expect(sender.calls).toEqual([
      ['applyTask', 't.add', [1, 2], {}, undefined],
      ['applyTask', 't.add', [3], { k: 1 }, { countdown: 5 }],
      ['applyTaskMany', 't.add', [[1], [2]], { priority: 1 }],
    ]);
    expect(add.call(2, 3)).toBe(5);
    expect(Object.isFrozen(add.options)).toBe(true);
  });

  it('signatures carry the sender, so a chain of them is sent through it', async () => {
    const sender = new RecordingSender();
    const add = new Task(sender, 't.add', (a: number) => a);
    const mul = new Task(sender, 't.mul', (a: number) => a);
    await chain(add.s(1), mul.si(2)).applyAsync({ queue: 'x' });
    expect(sender.calls).toEqual([['applyChain', ['t.add', 't.mul'], { queue: 'x' }]]);
  });
});
