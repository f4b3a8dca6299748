import { describe, expect, it } from 'vitest';
import {
  apiJsonSchemas,
  nodeStatusSchema,
  PROGRAM_FIELDS,
  rollbackRequestSchema,
  tokenRequestSchema,
} from '../src/index.js';

describe('apiJsonSchemas', () => {
  it('publishes JSON Schemas of every API body, serialisable as JSON', () => {
    const schemas = apiJsonSchemas() as Record<string, { properties?: Record<string, unknown> }>;
    expect(Object.keys(schemas).sort()).toEqual(
      [
        'CelerySettings',
        'EffectiveConfig',
        'Error',
        'Layer',
        'LayerName',
        'NodeConfigResponse',
        'NodeStatus',
        'Program',
        'RollbackRequest',
        'TokenRequest',
      ].sort(),
    );
    expect(() => JSON.stringify(schemas)).not.toThrow();
    expect(Object.keys(schemas.Layer?.properties ?? {})).toEqual(['groups', 'celery', 'programs']);
    expect(Object.keys(schemas.NodeStatus?.properties ?? {})).toContain('applied_revision');
    expect(Object.keys(schemas.CelerySettings?.properties ?? {})).toContain('task_routes');
  });

  it('documents exactly the program fields the checks know', () => {
    const program = apiJsonSchemas().Program as { properties: Record<string, unknown> };
    expect(Object.keys(program.properties).sort()).toEqual([...PROGRAM_FIELDS].sort());
  });
});

describe('API body schemas', () => {
  const status = {
    applied_revision: 7,
    apply_result: 'ok',
    programs: {
      workers: {
        kind: 'celeriac-worker',
        state: 'running',
        pids: [123, 124],
        restarts: 0,
        config_hash: 'abc',
        last_exit: null,
      },
    },
  };

  it('accepts a node status report and refuses a bad one', () => {
    expect(nodeStatusSchema.safeParse(status).success).toBe(true);
    expect(nodeStatusSchema.safeParse({ ...status, apply_result: 'maybe' }).success).toBe(false);
    expect(
      nodeStatusSchema.safeParse({ ...status, programs: { w: { ...status.programs.workers, state: 'sleeping' } } })
        .success,
    ).toBe(false);
  });

  it('needs a node for agent tokens and a positive revision for rollbacks', () => {
    expect(tokenRequestSchema.safeParse({ role: 'agent' }).success).toBe(false);
    expect(tokenRequestSchema.safeParse({ role: 'agent', node: 'web-1' }).success).toBe(true);
    expect(tokenRequestSchema.safeParse({ role: 'operator' }).success).toBe(true);
    expect(rollbackRequestSchema.safeParse({ revision: 0 }).success).toBe(false);
    expect(rollbackRequestSchema.safeParse({ revision: 3, message: 'back' }).success).toBe(true);
  });
});
