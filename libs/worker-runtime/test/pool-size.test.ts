import { describe, expect, it } from 'vitest';
import { PoolResizeError, PoolSize } from '../src/pool-size.js';

describe('PoolSize', () => {
  it('grows and shrinks the slots, the prefetch limit following (× multiplier), and reports each change', () => {
    const limits: number[] = [];
    const pool = new PoolSize(2, 4, (limit) => limits.push(limit));
    expect([pool.concurrency, pool.prefetchLimit]).toEqual([2, 8]);
    pool.grow(3);
    expect([pool.concurrency, pool.prefetchLimit]).toEqual([5, 20]);
    pool.shrink(4);
    expect([pool.concurrency, pool.prefetchLimit]).toEqual([1, 4]);
    pool.grow(0);
    expect(limits).toEqual([20, 4]);
  });

  it('refuses to go below one slot or to move by a count that is not a whole number ≥ 0, changing nothing', () => {
    const pool = new PoolSize(2, 1);
    expect(() => pool.shrink(2)).toThrow(PoolResizeError);
    expect(() => pool.shrink(2)).toThrow("Can't shrink pool by 2: it has 2 slot(s) and keeps at least 1");
    expect(() => pool.grow(-1)).toThrow('pool_grow takes a whole number of slots ≥ 0, got -1');
    expect(() => pool.grow(1.5)).toThrow(PoolResizeError);
    expect(() => pool.shrink(Number.NaN)).toThrow('got NaN');
    expect(pool.concurrency).toBe(2);
    // Celery's reply names the exception: ValueError(...)
    expect(new PoolResizeError('x').name).toBe('ValueError');
  });

  it('has no prefetch limit with a multiplier of 0, as Celery (qos 0), whatever the size', () => {
    const pool = new PoolSize(3, 0);
    expect(pool.prefetchLimit).toBe(Number.POSITIVE_INFINITY);
    pool.shrink(2);
    expect([pool.concurrency, pool.prefetchLimit]).toEqual([1, Number.POSITIVE_INFINITY]);
  });
});
