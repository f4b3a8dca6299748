import { describe, expect, it } from 'vitest';
import { decodeTaskEnvelope, markRedelivered } from '../src/index.js';
import { loadFixture } from './support/fixtures.js';

describe('markRedelivered', () => {
  it('flags a message like kombu restore does (visibility_timeout_restore)', () => {
    const f = loadFixture('visibility_timeout_restore');
    const original = f.original_publish[0].raw as string;
    const restored = JSON.parse(f.restored_message[0].raw);
    const ours = JSON.parse(markRedelivered(original));
    expect(ours).toEqual(restored);
    expect(Object.keys(ours.headers)).toEqual(Object.keys(restored.headers));
    const r = decodeTaskEnvelope(markRedelivered(original), { accept: ['json'] });
    expect(r.ok && r.message.redelivered).toBe(true);
    expect(r.ok && r.message.deliveryTag).toBe(restored.properties.delivery_tag);
  });

  it('matches the warm-shutdown restore capture too', () => {
    const f = loadFixture('warm_shutdown_restore_eta');
    // messages[0] is the client's LPUSH, messages[1] the worker's RPUSH at warm shutdown.
    const [published, handedBack] = f.messages as { raw: string; command: string }[];
    expect(published?.command).toBe('LPUSH');
    expect(handedBack?.command).toBe('RPUSH');
    expect(JSON.parse(markRedelivered(published!.raw))).toEqual(JSON.parse(handedBack!.raw));
  });

  it('leaves entries that are not envelopes unchanged', () => {
    expect(markRedelivered('not json')).toBe('not json');
    expect(markRedelivered('[1]')).toBe('[1]');
  });
});
