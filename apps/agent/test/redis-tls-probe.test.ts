// The agent's Redis connections for a program dial with the program's `broker_use_ssl`: against a
// private `redis-server --tls-port` whose certificate a CA of this file signed, a celeriac-worker
// program whose layer gives the CA (`broker_use_ssl.ssl_ca_certs`, kombu's Redis form) is probed
// through kombu's pidbox and reported responding; a program whose worker trusts the CA only
// through its own environment (NODE_EXTRA_CA_CERTS, the layer says nothing) cannot be probed by
// the agent, and that is reported (`responding: false`, `agent.worker_probe_failed` with
// REDIS_TLS_CERTIFICATE, once), never "healthy". A Python Celery program on the same server runs
// from the agent's rendered celeryconfig.py and is measured from its task events, read on a
// connection with the same `broker_use_ssl`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/e2e/support/center-api.js';
import { RedisTlsServer } from '../../../test/support/redis-tls-server.js';
import { TlsProbeNodes } from './support/tls-probe-nodes.js';

const ADMIN = 'redis-tls-probe-admin-token-0123456789';
const PASSWORD = 'redis-tls-probe-pw';

let tls: TlsProbeNodes<RedisTlsServer>;

beforeAll(async () => {
  tls = await TlsProbeNodes.start(
    ADMIN,
    (certs) => RedisTlsServer.start(certs, { password: PASSWORD }),
    (server, certs) => ({
      // The URL alone names no CA: what trusts the server is broker_use_ssl (or the worker's environment).
      brokerUrl: `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`,
      // As a kombu Redis config carries it: ssl_cert_reqs by name.
      useSsl: { ssl_ca_certs: certs.caCert, ssl_cert_reqs: 'CERT_REQUIRED' },
      nocaUseSsl: { ssl_cert_reqs: 'CERT_REQUIRED' },
    }),
  );
}, 90_000);

afterAll(async () => {
  await tls?.close();
}, 60_000);

describe('the agent on Redis over TLS with a private CA', () => {
  it('probes a program with broker_use_ssl.ssl_ca_certs: its worker answers and is reported responding', async () => {
    await tls.expectWithcaResponding();
    expect(tls.fleet.linesOf('withca', 'redis.tls_refused')).toEqual([]);
  }, 70_000);

  it('reports a program whose layer lacks the CA as not responding, with the certificate error once', async () => {
    const failed = await tls.expectNocaNotResponding('REDIS_TLS_CERTIFICATE');
    expect(failed[0]?.msg).toMatch(/ssl_ca_certs/);
    // Probes went on failing (at least two missed) and were said once, not at every probe.
    expect(tls.fleet.linesOf('noca', 'redis.tls_refused')).toHaveLength(1);
    expect(JSON.stringify(failed)).not.toContain(PASSWORD);
  }, 70_000);

  it('runs a Python program from the rendered celeryconfig and measures it from task events read over TLS', async () => {
    await tls.expectPythonMeasuredFromTaskEvents('redis-tls-client');
    // The Python worker answers the probe too (kombu's pidbox, over the same TLS).
    const py = await eventually(
      async () => {
        const workers = Object.values((await tls.probed('withca')).programs.py?.workers ?? {});
        return workers.length === 1 && workers[0]?.last_reply_at ? workers : undefined;
      },
      30_000,
      'the Python worker answers the probe',
    );
    expect(py).toMatchObject([{ responding: true }]);
  }, 110_000);
});
