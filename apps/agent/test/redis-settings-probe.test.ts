// The worker probe dials a Redis broker with the program's connection settings, read as its
// worker reads them (redisUrlFromSettings): a failover list of rediss:// URLs whose first server is
// down, trusted through `broker_use_ssl.ssl_ca_certs` with `broker_failover_strategy`, and a
// sentinel:// URL whose sentinel speaks TLS only (`broker_transport_options.master_name`,
// `sentinel_kwargs` with the CA). A Celeriac pidbox node (a ControlServer) connected with the same
// settings answers on each; the same sentinel without the CA in `sentinel_kwargs` is a connection of
// its own, reported once with the certificate error and its worker not responding.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import type { ProgramStatus } from '@celeriac/config-schema';
import { ControlServer, RevokedSet } from '@celeriac/control-plane';
import { closeRedisConnection, createRedisConnection, redisUrlFromSettings } from '@celeriac/redis-connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget } from '../../../libs/control-plane/test/helpers.js';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisTlsServer } from '../../../test/support/redis-tls-server.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { TlsSentinel } from '../../../test/support/tls-sentinel.js';
import { freePort } from '../../cli/src/local-redis.js';
import { type ProbeTarget, WorkerProbe } from '../src/worker-probe.js';

const PASSWORD = 'settings-probe-pw';
const MASTER = 'probemaster';
const FAILOVER_NODE = 'n1.fo.1@host';
const SENTINEL_NODE = 'n1.sent.1@host';

let certs: TestCertificates;
let tlsServer: RedisTlsServer;
let master: RedisServer;
let sentinel: TlsSentinel;
const log = capturingLogger('debug');
const servers: { server: ControlServer; close: () => Promise<void> }[] = [];
let failoverSettings: Record<string, unknown>;
let sentinelSettings: Record<string, unknown>;
let sentinelNoCaSettings: Record<string, unknown>;

/** A Celeriac pidbox node answering as `name`, connected as a worker with `settings` connects. */
async function serve(name: string, settings: Record<string, unknown>): Promise<void> {
  const url = redisUrlFromSettings('broker', settings);
  const commands = createRedisConnection(url, 'test-node', log.logger);
  const server = new ControlServer({
    url,
    target: new FakeTarget(name),
    revoked: new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 }),
    logger: log.logger,
  });
  await server.start();
  servers.push({ server, close: () => closeRedisConnection(commands) });
}

function status(): ProgramStatus {
  return { kind: 'celeriac-worker', state: 'running', pids: [1], restarts: 0, config_hash: 'h', last_exit: null };
}

beforeAll(async () => {
  certs = makeTestCertificates();
  tlsServer = await RedisTlsServer.start(certs, { password: PASSWORD });
  master = await RedisServer.start();
  sentinel = await TlsSentinel.start(certs, MASTER, master.port);
  const dead = await freePort();
  failoverSettings = {
    broker_url: `rediss://:${PASSWORD}@127.0.0.1:${dead}/0;rediss://:${PASSWORD}@127.0.0.1:${tlsServer.port}/0`,
    broker_use_ssl: { ssl_ca_certs: certs.caCert, ssl_cert_reqs: 'CERT_REQUIRED' },
    broker_failover_strategy: 'round-robin',
  };
  const sentinelUrl = `sentinel://127.0.0.1:${sentinel.port}/0`;
  sentinelSettings = {
    broker_url: sentinelUrl,
    broker_transport_options: {
      master_name: MASTER,
      sentinel_kwargs: { ssl: true, ssl_cert_reqs: 'required', ssl_ca_certs: certs.caCert },
    },
  };
  sentinelNoCaSettings = {
    broker_url: sentinelUrl,
    broker_transport_options: { master_name: MASTER, sentinel_kwargs: { ssl: true, ssl_cert_reqs: 'required' } },
  };
  await serve(FAILOVER_NODE, failoverSettings);
  await serve(SENTINEL_NODE, sentinelSettings);
}, 60_000);

afterAll(async () => {
  for (const { server, close } of servers) {
    await server.close();
    await close();
  }
  await sentinel?.stop();
  await master?.stop();
  await tlsServer?.stop();
  certs?.remove();
}, 30_000);

/** Probes `targets` until `done` holds for the annotated statuses (or 30 s pass). */
async function probeUntil(
  targets: ProbeTarget[],
  done: (statuses: Record<string, ProgramStatus>) => boolean,
  options: { redialRefusedTlsMs?: number } = {},
): Promise<Record<string, ProgramStatus>> {
  const probe = new WorkerProbe({
    logger: log.logger,
    targets: () => targets,
    onChange: () => {},
    timeoutMs: 2_000,
    ...options,
  });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      await probe.tick();
      const statuses = probe.annotate(Object.fromEntries(targets.map((t) => [t.program, status()])));
      if (done(statuses) || Date.now() > deadline) return statuses;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await probe.close();
  }
}

describe('the worker probe on Redis with the program connection settings', () => {
  it('reaches a worker through a rediss:// failover list (broker_use_ssl, strategy) and a TLS sentinel', async () => {
    const statuses = await probeUntil(
      [
        {
          program: 'fo',
          name: FAILOVER_NODE,
          brokerUrl: failoverSettings.broker_url as string,
          brokerSettings: failoverSettings,
        },
        {
          program: 'sent',
          name: SENTINEL_NODE,
          brokerUrl: sentinelSettings.broker_url as string,
          brokerSettings: sentinelSettings,
        },
      ],
      (s) => Boolean(s.fo?.workers?.[FAILOVER_NODE]?.last_reply_at && s.sent?.workers?.[SENTINEL_NODE]?.last_reply_at),
    );
    expect(statuses.fo?.workers?.[FAILOVER_NODE]).toMatchObject({
      responding: true,
      last_reply_at: expect.any(String),
    });
    expect(statuses.sent?.workers?.[SENTINEL_NODE]).toMatchObject({
      responding: true,
      last_reply_at: expect.any(String),
    });
    expect(log.lines().filter((l) => l.event === 'agent.worker_probe_failed')).toEqual([]);
  }, 60_000);

  it('reports the sentinel dialled without the CA in sentinel_kwargs once, with the certificate error', async () => {
    const before = log.lines().length;
    const statuses = await probeUntil(
      [
        {
          program: 'noca',
          name: SENTINEL_NODE,
          brokerUrl: sentinelNoCaSettings.broker_url as string,
          brokerSettings: sentinelNoCaSettings,
        },
      ],
      (s) => s.noca?.responding === false,
    );
    expect(statuses.noca?.workers?.[SENTINEL_NODE]).toMatchObject({ responding: false, last_reply_at: null });
    const failed = log
      .lines()
      .slice(before)
      .filter((l) => l.event === 'agent.worker_probe_failed');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed[0]).toMatchObject({
      level: 40,
      code: 'CONTROL_UNAVAILABLE',
      cause_code: 'REDIS_TLS_CERTIFICATE',
      programs: ['noca'],
    });
    expect(String(failed[0]?.msg)).toMatch(/sentinel_kwargs TLS/);
    expect(failed.filter((l) => l.level === 40)).toHaveLength(1);
  }, 60_000);

  it('dials anew after a refusal once the CA file is fixed in place (a rotated CA), without a settings change', async () => {
    const rotating = path.join(certs.dir, 'rotating-ca.pem');
    copyFileSync(certs.otherCaCert, rotating);
    const settings = {
      broker_url: `rediss://:${PASSWORD}@127.0.0.1:${tlsServer.port}/0`,
      broker_use_ssl: { ssl_ca_certs: rotating, ssl_cert_reqs: 'CERT_REQUIRED' },
    };
    const target: ProbeTarget = {
      program: 'rot',
      name: FAILOVER_NODE,
      brokerUrl: settings.broker_url,
      brokerSettings: settings,
    };
    let fixed = false;
    const statuses = await probeUntil(
      [target],
      (s) => {
        if (!fixed && s.rot?.responding === false) {
          copyFileSync(certs.caCert, rotating);
          fixed = true;
        }
        return fixed && Boolean(s.rot?.workers?.[FAILOVER_NODE]?.last_reply_at);
      },
      { redialRefusedTlsMs: 300 },
    );
    expect(fixed).toBe(true);
    expect(statuses.rot?.workers?.[FAILOVER_NODE]).toMatchObject({
      responding: true,
      last_reply_at: expect.any(String),
    });
  }, 60_000);
});
