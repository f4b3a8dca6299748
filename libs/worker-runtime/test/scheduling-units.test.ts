import type { TaskMessage } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { buildArguments } from '../src/build-arguments.js';
import { EtaScheduler } from '../src/eta-scheduler.js';
import { RateLimiter } from '../src/rate-limiter.js';
import type { TaskPlan } from '../src/task-plan.js';
import { TokenBucket } from '../src/token-bucket.js';

describe('TokenBucket', () => {
  it('gives one token at once, then one per 1/rate seconds', () => {
    const bucket = new TokenBucket(10, 1, 0);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.msUntilToken(0)).toBeCloseTo(100);
    expect(bucket.tryTake(50)).toBe(false);
    expect(bucket.tryTake(100)).toBe(true);
    // capacity 1: a long pause saves up only one token
    expect(bucket.tryTake(10_000)).toBe(true);
    expect(bucket.tryTake(10_000)).toBe(false);
  });
});

describe('RateLimiter', () => {
  it('releases waiting items at the configured rate, per name', async () => {
    const released: [string, number][] = [];
    const started = Date.now();
    const limiter = new RateLimiter<string>((item) => released.push([item, Date.now() - started]));
    const admitted = ['a1', 'a2', 'a3', 'a4'].filter((item) => limiter.admit('a', 20, item));
    expect(admitted).toEqual(['a1']);
    expect(limiter.admit('b', 20, 'b1')).toBe(true);
    expect(limiter.size).toBe(3);
    await new Promise((r) => setTimeout(r, 400));
    expect(released.map(([i]) => i)).toEqual(['a2', 'a3', 'a4']);
    // 20/s: one every 50 ms, so the third waits at least ~150 ms
    expect((released[2] as [string, number])[1]).toBeGreaterThanOrEqual(140);
    limiter.close();
  });

  it('drain() hands back waiting items and stops timers', () => {
    const limiter = new RateLimiter<number>(() => {
      throw new Error('must not release after drain');
    });
    limiter.admit('x', 1, 1);
    limiter.admit('x', 1, 2);
    limiter.admit('x', 1, 3);
    expect(limiter.drain()).toEqual([2, 3]);
    limiter.close();
  });
});

describe('EtaScheduler', () => {
  it('hands items over in due order with one timer', async () => {
    const out: number[] = [];
    const eta = new EtaScheduler<number>((n) => out.push(n));
    const now = Date.now();
    eta.schedule(now + 60, 3);
    eta.schedule(now + 20, 1);
    eta.schedule(now + 40, 2);
    eta.schedule(now + 100_000, 9);
    expect(eta.size).toBe(4);
    await new Promise((r) => setTimeout(r, 150));
    expect(out).toEqual([1, 2, 3]);
    expect(eta.drain()).toEqual([9]);
    eta.close();
  });

  it('orders many random due times correctly', async () => {
    const out: number[] = [];
    const eta = new EtaScheduler<number>((n) => out.push(n));
    const base = Date.now() + 10;
    const offsets = Array.from({ length: 200 }, () => Math.floor(Math.random() * 50));
    for (const o of offsets) eta.schedule(base + o, o);
    await new Promise((r) => setTimeout(r, 120));
    expect(out).toEqual([...offsets].sort((a, b) => a - b));
    eta.close();
  });
});

describe('buildArguments', () => {
  const plan = (params: string[] | null) => ({ name: 't.add', params }) as unknown as TaskPlan;
  const msg = (args: unknown[], kwargs: Record<string, unknown>) => ({ args, kwargs }) as unknown as TaskMessage;

  it('maps kwargs onto declared params', () => {
    expect(buildArguments(plan(['a', 'b']), msg([], { b: 3, a: 2 }))).toEqual([2, 3]);
    expect(buildArguments(plan(['a', 'b']), msg([2], { b: 3 }))).toEqual([2, 3]);
    expect(buildArguments(plan(['a', 'b', 'c']), msg([], { c: 1 }))).toEqual([undefined, undefined, 1]);
  });

  it('refuses unknown and duplicate kwargs like Python', () => {
    expect(() => buildArguments(plan(['a']), msg([], { z: 1 }))).toThrow("unexpected keyword argument 'z'");
    expect(() => buildArguments(plan(['a']), msg([1], { a: 1 }))).toThrow("multiple values for argument 'a'");
  });

  it('passes kwargs as one last object without params, and args untouched without kwargs', () => {
    const args = [1, 2];
    expect(buildArguments(plan(null), msg(args, {}))).toBe(args);
    expect(buildArguments(plan(null), msg([1], { x: 2 }))).toEqual([1, { x: 2 }]);
  });
});
