import { describe, expect, it } from 'vitest';
import { RolloutFeed } from '../src/rollout/rollout-feed.js';
import type { RolloutRecord } from '../src/rollout/rollout-record.js';

// The pure parts of the live feeds: the center's change detection over the rollout records, and
// the console's SSE parsing and reconnect delays.

describe('RolloutFeed', () => {
  it('sends the state at once, then only changes, each with a higher version; stops when nobody listens', async () => {
    const source = { driving: true, records: [] as Partial<RolloutRecord>[] };
    const feed = new RolloutFeed({ driving: true, list: () => source.records as RolloutRecord[] }, 20);
    const first = JSON.parse(feed.current());
    expect(first).toMatchObject({ version: 1, driving: true, rollouts: [] });
    const got: { version: number; rollouts: { state: string }[] }[] = [];
    const unsubscribe = feed.subscribe((json) => got.push(JSON.parse(json)));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(got).toEqual([]);
    source.records = [{ id: 'r1', state: 'running' }];
    feed.poke();
    expect(got.map((m) => [m.version, m.rollouts[0]?.state])).toEqual([[2, 'running']]);
    source.records = [{ id: 'r1', state: 'paused' }];
    // Found by the periodic check, without a poke (a follower replica re-read the records).
    const deadline = Date.now() + 5000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(got.map((m) => [m.version, m.rollouts[0]?.state])).toEqual([
      [2, 'running'],
      [3, 'paused'],
    ]);
    unsubscribe();
    source.records = [{ id: 'r1', state: 'succeeded' }];
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(got).toHaveLength(2);
    expect(JSON.parse(feed.current()).version).toBe(4);
    feed.close();
  });
});

/** The console's stream reader: a plain ES module (no types) that needs no DOM at import. */
const consoleModule = '../console/live-stream.js';
const { retryDelayMs, sseParser } = (await import(consoleModule)) as {
  retryDelayMs(attempt: number): number;
  sseParser(onEvent: (name: string, data: string) => void): (chunk: string) => void;
};

describe('console live-stream', () => {
  it('parses events split across chunks, skips comments and joins multi-line data', () => {
    const events: [string, string][] = [];
    const feed = sseParser((name: string, data: string) => events.push([name, data]));
    feed('retry: 1000\n\n: keep-alive\n\nevent: rollouts\nda');
    feed('ta: {"a":1}\n');
    expect(events).toEqual([]);
    feed('\nevent: history\r\ndata: x\r\ndata: y\r\n\r\ndata: plain\n\n');
    expect(events).toEqual([
      ['rollouts', '{"a":1}'],
      ['history', 'x\ny'],
      ['message', 'plain'],
    ]);
  });

  it('waits longer after each failed attempt, from about 0.5 s up to 10 s', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const full = Math.min(10_000, 500 * 2 ** attempt);
      const delay = retryDelayMs(attempt);
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });
});
