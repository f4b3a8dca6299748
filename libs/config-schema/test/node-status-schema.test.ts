import { describe, expect, it } from 'vitest';
import { MAX_HEARTBEAT_MS, type NodeStatus, nodeStatusSchema } from '../src/index.js';

const report: NodeStatus = { applied_revision: 3, apply_result: 'ok', programs: {} };

describe('nodeStatusSchema heartbeat_ms', () => {
  it('is optional, so that the reports of older agents stay valid', () => {
    const parsed = nodeStatusSchema.safeParse(report);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.heartbeat_ms).toBeUndefined();
  });

  it('keeps the announced heartbeat (zod would strip an unknown field)', () => {
    expect(nodeStatusSchema.parse({ ...report, heartbeat_ms: 2000 }).heartbeat_ms).toBe(2000);
  });

  it.each([0, -5, 1.5, MAX_HEARTBEAT_MS + 1, '2s', null])('refuses %j', (heartbeat_ms) => {
    const parsed = nodeStatusSchema.safeParse({ ...report, heartbeat_ms });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toEqual(['heartbeat_ms']);
  });
});
