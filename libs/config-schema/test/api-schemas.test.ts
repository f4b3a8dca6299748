import { describe, expect, it } from 'vitest';
import {
  apiJsonSchemas,
  CENTER_ERROR_CODES,
  layerWriteResponseSchema,
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
        'Author',
        'CelerySettings',
        'DiffResponse',
        'EffectiveConfig',
        'Error',
        'Health',
        'Layer',
        'LayerList',
        'LayerName',
        'LayerResponse',
        'LayerWriteResponse',
        'NodeConfigResponse',
        'NodeList',
        'NodeStatus',
        'NodeSummary',
        'Program',
        'Revision',
        'RevisionList',
        'RollbackRequest',
        'RollbackResponse',
        'StatusReportResponse',
        'Token',
        'TokenCreated',
        'TokenList',
        'TokenRequest',
        'TokenRevoked',
        'WhoAmI',
      ].sort(),
    );
    expect(() => JSON.stringify(schemas)).not.toThrow();
    expect(Object.keys(schemas.Layer?.properties ?? {})).toEqual(['groups', 'celery', 'programs', 'labels']);
    expect(Object.keys(schemas.NodeStatus?.properties ?? {})).toContain('applied_revision');
    expect(Object.keys(schemas.CelerySettings?.properties ?? {})).toContain('task_routes');
    const error = schemas.Error as { properties: { error: { properties: { code: { enum: string[] } } } } };
    expect(error.properties.error.properties.code.enum).toEqual(CENTER_ERROR_CODES);
    expect(CENTER_ERROR_CODES.every((code) => code.startsWith('CENTER_'))).toBe(true);
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

describe('API answer schemas', () => {
  it('read an answer, dropping members a newer center may add', () => {
    const answer = {
      layer: 'defaults',
      revision: 3,
      changed: true,
      diff: [
        { path: 'celery.timezone', before: 'UTC', after: 'Europe/Paris' },
        { path: 'celery.x', after: 1 },
      ],
      document: { celery: { timezone: 'Europe/Paris', x: 1 } },
      added_later: true,
    };
    const parsed = layerWriteResponseSchema.parse(answer);
    expect(parsed).not.toHaveProperty('added_later');
    expect(parsed.diff[1]).toEqual({ path: 'celery.x', after: 1 });
    expect(layerWriteResponseSchema.safeParse({ ...answer, changed: 'yes' }).success).toBe(false);
  });
});
