import { expect } from 'vitest';
import { ADMIN_TOKEN, api } from './center-harness.js';

/** What the center serves `node` now (`GET /v1/nodes/<node>/config` as the admin). */
export async function servedConfig(url: string, node: string): Promise<{ revision: number; hash: string }> {
  const response = await api(url, 'GET', `/v1/nodes/${node}/config`, { token: ADMIN_TOKEN });
  expect(response.status).toBe(200);
  return { revision: response.body.revision, hash: response.body.hash };
}

/**
 * Reports through `url`, as an agent of `node` would, that it applied `revision` and its one
 * celeriac-worker program `workers` runs as `pid` (with the health summary `health`, when given).
 */
export async function reportWorkersRunning(
  url: string,
  node: string,
  revision: number,
  pid: number,
  health?: Record<string, unknown>,
): Promise<void> {
  const body = {
    applied_revision: revision,
    apply_result: 'ok',
    programs: {
      workers: {
        kind: 'celeriac-worker',
        state: 'running',
        pids: [pid],
        restarts: 0,
        config_hash: 'h',
        last_exit: null,
        ...(health ? { health } : {}),
      },
    },
  };
  expect((await api(url, 'POST', `/v1/nodes/${node}/status`, { token: ADMIN_TOKEN, body })).status).toBe(200);
}
