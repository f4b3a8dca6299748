import { logSchemaViolations } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter } from './support/center-harness.js';

let center: TestCenter;

beforeAll(async () => {
  center = await startTestCenter();
});
afterAll(async () => {
  await center?.close();
});

function lines(): Record<string, unknown>[] {
  return center.logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the center log', () => {
  it('has one center.request line per request, and every line follows the log schema', async () => {
    const T = ADMIN_TOKEN;
    await api(center.url, 'PUT', '/v1/layers/defaults', { token: T, body: { celery: { timezone: 'UTC' } } });
    await api(center.url, 'GET', '/v1/layers/defaults?token=cel_secret-in-a-query', { token: T });
    await api(center.url, 'GET', '/v1/nope', { token: T });
    await api(center.url, 'PUT', '/v1/layers/defaults', { token: 'wrong-token', body: {} });
    await api(center.url, 'PUT', '/v1/layers/groups/x', { token: T, rawBody: '{"celery": ' });
    await new Promise((resolve) => setTimeout(resolve, 50));

    const all = lines();
    for (const line of all) expect(logSchemaViolations(line), JSON.stringify(line)).toEqual([]);
    const requests = all.filter((line) => line.event === 'center.request');
    expect(requests.map((line) => [line.method, line.status_code])).toEqual([
      ['PUT', 201],
      ['GET', 200],
      ['GET', 404],
      ['PUT', 401],
      ['PUT', 400],
    ]);
    for (const line of requests) {
      expect(typeof line.response_time_ms).toBe('number');
      expect(typeof line.url).toBe('string');
      expect(typeof line.request_id).toBe('string');
    }
    // Routine reads at debug (20), writes and refusals at info (30).
    expect(requests.map((line) => line.level)).toEqual([30, 20, 30, 30, 30]);
    expect(requests[0]).toMatchObject({ route: '/v1/layers/*', url: '/v1/layers/defaults' });
    expect(JSON.stringify(all)).not.toContain('cel_secret-in-a-query');
    expect(all.find((line) => line.event === 'center.layer_written')).toMatchObject({ layer: 'defaults', revision: 1 });
    // What fastify itself writes carries an event too ("Server listening at ...").
    expect(all.some((line) => line.event === 'center.http')).toBe(true);
  });
});

describe('the center state', () => {
  it('logs every change as center.state, from starting to closed', async () => {
    const other = await startTestCenter();
    await other.close();
    const states = other.logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === 'center.state')
      .map((line) => [line.from ?? null, line.to]);
    expect(states).toEqual([
      [null, 'starting'],
      ['starting', 'listening'],
      ['listening', 'closing'],
      ['closing', 'closed'],
    ]);
  });
});
