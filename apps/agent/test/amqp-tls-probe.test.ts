// The agent's AMQP connections for a program dial with the program's `broker_use_ssl`: against a
// private RabbitMQ node whose TLS certificate a CA of this file signed, a celeriac-worker program
// whose layer gives the CA (`broker_use_ssl.ca_certs`) is probed over the AMQP pidbox and reported
// responding; a program whose worker trusts the CA only through its own environment
// (NODE_EXTRA_CA_CERTS, the layer says nothing) cannot be probed by the agent, and that is reported
// (`responding: false`, `agent.worker_probe_failed` with AMQP_TLS_CERTIFICATE), never "healthy".
// A Python Celery program on the same node is measured from its task events, read on a connection
// with the same `broker_use_ssl`.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/e2e/support/center-api.js';
import { RabbitNode } from '../../../test/support/rabbitmq-node.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { E2E_SUPPORT, healthWorkerProgram, ProbeFleet } from './support/probe-fleet.js';

const ADMIN = 'amqp-tls-probe-admin-token-0123456789';

let certs: TestCertificates;
let node: RabbitNode;
let fleet: ProbeFleet;
let useSsl: Record<string, unknown>;

beforeAll(async () => {
  certs = makeTestCertificates();
  node = await RabbitNode.start({
    tls: { caCert: certs.caCert, serverCert: certs.serverCert, serverKey: certs.serverKey },
  });
  fleet = await ProbeFleet.start(ADMIN);
  const celery = { broker_url: node.tlsUrl(), task_default_queue: 'tls' };
  // cert_reqs by name, as a layer carries it: the agent writes Python's number into celeryconfig.py
  // (py-amqp takes only the number), so the Python program connects with it too.
  useSsl = { ca_certs: certs.caCert, cert_reqs: 'CERT_REQUIRED' };
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
    'nodes/noca': { celery, programs: { w: healthWorkerProgram({ NODE_EXTRA_CA_CERTS: certs.caCert }) } },
  };
  for (const [layer, doc] of Object.entries(layers)) {
    const res = await fleet.admin.putLayer(layer, doc);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  await Promise.all([fleet.startAgent('withca'), fleet.startAgent('noca')]);
}, 90_000);

afterAll(async () => {
  await fleet?.close();
  await node?.stop();
  certs?.remove();
}, 60_000);

const probed = (name: string) => fleet.probed(name);

describe('the agent on RabbitMQ over TLS with a private CA', () => {
  it('probes a program with broker_use_ssl.ca_certs: its worker answers and is reported responding', async () => {
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
    const failed = fleet.lines.filter((l) => l.event === 'agent.worker_probe_failed' && l.agent === 'withca');
    expect(failed).toEqual([]);
  }, 70_000);

  it('reports a program whose layer lacks the CA as not responding, with the certificate error', async () => {
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
      cause_code: 'AMQP_TLS_CERTIFICATE',
      programs: ['w'],
    });
    expect(failed[0]?.msg).toMatch(/ca_certs/);
    // Said once per outage, not at every probe.
    expect(failed.filter((l) => l.level === 40)).toHaveLength(1);
    expect(JSON.stringify(failed[0])).not.toContain('guest:guest');
    expect(fleet.lines.filter((l) => l.event === 'agent.worker_unresponsive' && l.agent === 'noca')).toMatchObject([
      { program: 'w' },
    ]);
  }, 70_000);

  it('measures a Python program from its task events, read over TLS with its broker_use_ssl', async () => {
    const client = new Celeriac(
      'tls-client',
      { broker_url: node.tlsUrl(), broker_use_ssl: useSsl },
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      await eventually(
        async () => ((await probed('withca')).programs.py?.state === 'running' ? true : undefined),
        60_000,
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
    } finally {
      await client.close();
    }
  }, 110_000);
});
