// The agent's AMQP connections for a program dial with the program's `broker_use_ssl`: against a
// private RabbitMQ node whose TLS certificate a CA of this file signed, a celeriac-worker program
// whose layer gives the CA (`broker_use_ssl.ca_certs`) is probed over the AMQP pidbox and reported
// responding; a program whose worker trusts the CA only through its own environment
// (NODE_EXTRA_CA_CERTS, the layer says nothing) cannot be probed by the agent, and that is reported
// (`responding: false`, `agent.worker_probe_failed` with AMQP_TLS_CERTIFICATE), never "healthy".
// A Python Celery program on the same node is measured from its task events, read on a connection
// with the same `broker_use_ssl`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitNode } from '../../../test/support/rabbitmq-node.js';
import { TlsProbeNodes } from './support/tls-probe-nodes.js';

const ADMIN = 'amqp-tls-probe-admin-token-0123456789';

let tls: TlsProbeNodes<RabbitNode>;

beforeAll(async () => {
  tls = await TlsProbeNodes.start(
    ADMIN,
    (certs) =>
      RabbitNode.start({ tls: { caCert: certs.caCert, serverCert: certs.serverCert, serverKey: certs.serverKey } }),
    // cert_reqs by name, as a layer carries it: the agent writes Python's number into celeryconfig.py
    // (py-amqp takes only the number), so the Python program connects with it too. noca's layer
    // has no broker_use_ssl at all.
    (node, certs) => ({ brokerUrl: node.tlsUrl(), useSsl: { ca_certs: certs.caCert, cert_reqs: 'CERT_REQUIRED' } }),
  );
}, 90_000);

afterAll(async () => {
  await tls?.close();
}, 60_000);

describe('the agent on RabbitMQ over TLS with a private CA', () => {
  it('probes a program with broker_use_ssl.ca_certs: its worker answers and is reported responding', async () => {
    await tls.expectWithcaResponding();
  }, 70_000);

  it('reports a program whose layer lacks the CA as not responding, with the certificate error', async () => {
    const failed = await tls.expectNocaNotResponding('AMQP_TLS_CERTIFICATE');
    expect(failed[0]?.msg).toMatch(/ca_certs/);
    expect(JSON.stringify(failed[0])).not.toContain('guest:guest');
  }, 70_000);

  it('measures a Python program from its task events, read over TLS with its broker_use_ssl', async () => {
    await tls.expectPythonMeasuredFromTaskEvents('tls-client');
  }, 110_000);
});
