import { describe, expect, it } from 'vitest';
import { PRIORITY_SEPARATOR, priorityQueueName, priorityStep } from '../src/index.js';
import { loadFixture } from './support/fixtures.js';

describe('priorities', () => {
  it('buckets into the largest step <= the priority', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(priorityStep)).toEqual([0, 0, 0, 3, 3, 3, 6, 6, 6, 9]);
    expect(priorityStep(-1)).toBe(0);
    expect(priorityStep(12)).toBe(9);
    expect(priorityStep(Number.NaN)).toBe(0);
  });

  it.each([0, 3, 5, 9])('priority %i lands in the sub-list the fixture captured', (p) => {
    const f = loadFixture(`j_priority_${p}`);
    expect(f.broker.message.envelope.properties.priority).toBe(p);
    expect(priorityQueueName('celery', p)).toBe(f.broker.queue_list_key);
  });

  it('names sub-lists with the kombu separator', () => {
    expect(PRIORITY_SEPARATOR).toBe('\x06\x16');
    expect(priorityQueueName('celery', 0)).toBe('celery');
    expect(priorityQueueName('other', 4)).toBe('other\x06\x163');
    expect(priorityQueueName('celery', 9)).toBe('celery\x06\x169');
  });
});
