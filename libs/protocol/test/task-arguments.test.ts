// The argument mapping the worker and the client's eager mode share (Python's call semantics).
import { describe, expect, it } from 'vitest';
import { taskCallArguments } from '../src/task-arguments.js';

describe('taskCallArguments', () => {
  it('puts kwargs on the declared params, leaving holes undefined; without kwargs the args as they are', () => {
    expect(taskCallArguments('add', ['a', 'b'], [], { b: 3, a: 2 })).toEqual([2, 3]);
    expect(taskCallArguments('add', ['a', 'b', 'c'], [1], { c: 3 })).toEqual([1, undefined, 3]);
    const args = [1, 2];
    expect(taskCallArguments('add', ['a', 'b'], args, {})).toBe(args);
  });

  it('without params, non-empty kwargs are one extra last argument', () => {
    expect(taskCallArguments('f', null, [1], { x: 2 })).toEqual([1, { x: 2 }]);
  });

  it("an unknown or doubly given keyword is Python's TypeError, or the caller's own error", () => {
    expect(() => taskCallArguments('add', ['a'], [], { z: 1 })).toThrow(
      new TypeError("add() got an unexpected keyword argument 'z'"),
    );
    class Own extends Error {}
    expect(() => taskCallArguments('add', ['a'], [1], { a: 1 }, (m) => new Own(m))).toThrow(Own);
    expect(() => taskCallArguments('add', ['a'], [1], { a: 1 })).toThrow("add() got multiple values for argument 'a'");
  });
});
