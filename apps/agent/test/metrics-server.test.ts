import { describe, expect, it } from 'vitest';
import { AgentUsageError } from '../src/errors.js';
import { type AgentMetrics, MetricsServer, metricsResponse } from '../src/metrics-server.js';

const snapshot = (patch: Partial<AgentMetrics> = {}): AgentMetrics => ({
  state: 'running',
  centerReachable: true,
  appliedRevision: 7,
  applies: { ok: 2, failed: 1, invalid: 0 },
  programs: {
    web: { state: 'running', replicas: 2, restarts: 1 },
    'odd"name': { state: 'backoff', replicas: 0, restarts: 3 },
  },
  ownerRestores: 1,
  tasksRestored: 4,
  ...patch,
});

describe('metricsResponse (no server needed)', () => {
  it('answers /healthz with the state, reachability, revision and program states', () => {
    const answer = metricsResponse('/healthz?verbose=1', snapshot());
    expect(answer).toMatchObject({ status: 200, contentType: 'application/json' });
    expect(JSON.parse(answer.body)).toEqual({
      status: 'ok',
      state: 'running',
      center_reachable: true,
      applied_revision: 7,
      programs: { web: 'running', 'odd"name': 'backoff' },
    });
  });

  it.each([
    ['a failed agent', { state: 'failed' }],
    ['a stopped agent', { state: 'stopped' }],
    ['a FATAL program', { programs: { web: { state: 'fatal', replicas: 0, restarts: 5 } } }],
  ])('answers 503 for %s', (_what, patch) => {
    const answer = metricsResponse('/healthz', snapshot(patch as Partial<AgentMetrics>));
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).status).toBe('unhealthy');
  });

  it('renders Prometheus text with escaped labels and one sample per program state', () => {
    const { status, contentType, body } = metricsResponse('/metrics', snapshot());
    expect(status).toBe(200);
    expect(contentType).toBe('text/plain; version=0.0.4');
    expect(body).toContain('celeriac_agent_applied_revision 7');
    expect(body).toContain('celeriac_agent_applies_total{result="failed"} 1');
    expect(body).toContain('celeriac_agent_program_replicas{program="web"} 2');
    expect(body).toContain('celeriac_agent_program_state{program="odd_name",state="backoff"} 1');
    expect(body).toContain('celeriac_agent_program_state{program="web",state="fatal"} 0');
    expect(body.endsWith('\n')).toBe(true);
  });

  it('answers 404 with a hint for anything else', () => {
    const answer = metricsResponse('/nope', snapshot());
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body).error.message).toMatch(/try \/healthz or \/metrics/);
  });
});

describe('MetricsServer', () => {
  it('refuses a listen address that is not host:port with AGENT_USAGE', async () => {
    const server = new MetricsServer('localhost', () => snapshot());
    const error = await server.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentUsageError);
    expect((error as AgentUsageError).code).toBe('AGENT_USAGE');
  });
});
