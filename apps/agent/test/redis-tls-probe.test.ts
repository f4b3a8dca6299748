// The agent's Redis connections for a program dial with the program's `broker_use_ssl`: against a
// private `redis-server --tls-port` whose certificate a CA of this file signed, a celeriac-worker
// program whose layer gives the CA (`broker_use_ssl.ssl_ca_certs`, kombu's Redis form) is probed
// through kombu's pidbox and reported responding; a program whose worker trusts the CA only
// through its own environment (NODE_EXTRA_CA_CERTS, the layer says nothing) cannot be probed by
// the agent, and that is reported (`responding: false`, `agent.worker_probe_failed` with
// REDIS_TLS_CERTIFICATE, once), never "healthy". A Python Celery program on the same server runs
// from the agent's rendered celeryconfig.py and is measured from its task events, read on a
// connection with the same `broker_use_ssl`.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/e2e/support/center-api.js';
import { RedisTlsServer } from '../../../test/support/redis-tls-server.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { E2E_SUPPORT, healthWorkerProgram, ProbeFleet } from './support/probe-fleet.js';

const ADMIN = 'redis-tls-probe-admin-token-0123456789';
const PASSWORD = 'redis-tls-probe-pw';

let certs: TestCertificates;
let server: RedisTlsServer;
let fleet: ProbeFleet;
let brokerUrl: string;
let useSsl: Record<string, unknown>;

beforeAll(async () => {
  certs = makeTestCertificates();
  server = await RedisTlsServer.start(certs, { password: PASSWORD });
  fleet = await ProbeFleet.start(ADMIN);
  // The URL alone names no CA: what trusts the server is broker_use_ssl (or the worker's environment).
  brokerUrl = `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`;
  const celery = { broker_url: brokerUrl, task_default_queue: 'tls' };
  // As a kombu Redis config carries it: ssl_cert_reqs by name.
  useSsl = { ssl_ca_certs: certs.caCert, ssl_cert_reqs: 'CERT_REQUIRED' };
  const layers: Record<string, unknown> = {
    'nodes/withca': {
      celery: { ...celery, broker_use_ssl: useSsl },
      programs: {
        w: healthWorkerProgram(),
        py: {
          kind: 'celery-worker',
          app: 'health_py_tasks',
          env: { PYTHONPATH: E2E_SUPPORT },
          queues: ['py_tls'],
          concurrency: 1,
          stop_timeout: '5s',
          ready_timeout: '40s',
        },
      },
    },
    // The worker trusts the CA by its environment; the layer (all the agent reads) does not.
    'nodes/noca': {
      celery: { ...celery, broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED' } },
      programs: { w: healthWorkerProgram({ NODE_EXTRA_CA_CERTS: certs.caCert }) },
    },
  };
  for (const [layer, doc] of Object.entries(layers)) {
    const res = await fleet.admin.putLayer(layer, doc);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  await Promise.all([fleet.startAgent('withca'), fleet.startAgent('noca')]);
}, 90_000);

afterAll(async () => {
  await fleet?.close();
  await server?.stop();
  certs?.remove();
}, 60_000);

const probed = (name: string) => fleet.probed(name);

describe('the agent on Redis over TLS with a private CA', () => {
  it('probes a program with broker_use_ssl.ssl_ca_certs: its worker answers and is reported responding', async () => {
    const status = await eventually(
      async () => {
        const s = await probed('withca');
        const workers = Object.values(s.programs.w?.workers ?? {});
        return s.programs.w?.state === 'running' && workers.length === 1 && workers[0]?.last_reply_at ? s : undefined;
      },
      60_000,
      'the withca worker answers the probe',
    );
    expect(status.programs.w?.responding).toBe(true);
    expect(Object.values(status.programs.w?.workers ?? {})).toMatchObject([{ responding: true }]);
    const mine = (event: string) => fleet.lines.filter((l) => l.event === event && l.agent === 'withca');
    expect(mine('agent.worker_probe_failed')).toEqual([]);
    expect(mine('redis.tls_refused')).toEqual([]);
  }, 70_000);

  it('reports a program whose layer lacks the CA as not responding, with the certificate error once', async () => {
    const status = await eventually(
      async () => {
        const s = await probed('noca');
        return s.programs.w?.state === 'running' && s.programs.w.responding === false ? s : undefined;
      },
      60_000,
      'the noca worker is reported not responding',
    );
    // Its worker runs (it trusts the CA by its environment); only the agent cannot reach its pidbox.
    expect(Object.values(status.programs.w?.workers ?? {})).toMatchObject([{ responding: false, last_reply_at: null }]);
    const failed = fleet.lines.filter((l) => l.event === 'agent.worker_probe_failed' && l.agent === 'noca');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({
      level: 40,
      code: 'CONTROL_UNAVAILABLE',
      cause_code: 'REDIS_TLS_CERTIFICATE',
      programs: ['w'],
    });
    expect(failed[0]?.msg).toMatch(/ssl_ca_certs/);
    // Probes went on failing (at least two missed) and were said once, not at every probe.
    expect(failed.filter((l) => l.level === 40)).toHaveLength(1);
    expect(fleet.lines.filter((l) => l.event === 'redis.tls_refused' && l.agent === 'noca')).toHaveLength(1);
    expect(JSON.stringify(failed)).not.toContain(PASSWORD);
    expect(fleet.lines.filter((l) => l.event === 'agent.worker_unresponsive' && l.agent === 'noca')).toMatchObject([
      { program: 'w' },
    ]);
  }, 70_000);

  it('runs a Python program from the rendered celeryconfig and measures it from task events read over TLS', async () => {
    const client = new Celeriac(
      'redis-tls-client',
      { broker_url: brokerUrl, broker_use_ssl: useSsl },
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      await eventually(
        async () => ((await probed('withca')).programs.py?.state === 'running' ? true : undefined),
        60_000,
        'the Python program runs',
      );
      await client.sendTask('hpy.echo', [7], {}, { queue: 'py_tls' });
      const health = await eventually(
        async () => {
          const h = (await probed('withca')).programs.py?.health;
          return h && h.counts.succeeded >= 1 ? h : undefined;
        },
        40_000,
        'the Python task succeeded in the health summary',
      );
      expect(health.source).toBe('task_events');
      expect(fleet.lines.filter((l) => l.event === 'agent.task_events_unavailable' && l.agent === 'withca')).toEqual(
        [],
      );
      // The Python worker answers the probe too (kombu's pidbox, over the same TLS).
      const py = await eventually(
        async () => {
          const workers = Object.values((await probed('withca')).programs.py?.workers ?? {});
          return workers.length === 1 && workers[0]?.last_reply_at ? workers : undefined;
        },
        30_000,
        'the Python worker answers the probe',
      );
      expect(py).toMatchObject([{ responding: true }]);
    } finally {
      await client.close();
    }
  }, 110_000);
});
