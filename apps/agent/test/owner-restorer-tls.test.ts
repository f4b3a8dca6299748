// The restore of a dead worker's tasks dials the broker with the config's broker_use_ssl (a
// private CA), as the worker connected: what the owner had moved is put back over TLS; without
// the CA in the settings the restore fails with the refused certificate, logged (nothing silent).

import { closeRedisConnection, createRedisConnection, redisUrlFromSettings } from '@celeriac/redis-connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawEntry } from '../../../libs/broker/test/helpers.js';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { RedisTlsServer } from '../../../test/support/redis-tls-server.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { OwnerRestorer } from '../src/owner-restorer.js';

const PASSWORD = 'restore-tls-pw';
const OWNER = 'dead:1';
let certs: TestCertificates;
let server: RedisTlsServer;
let brokerUrl: string;
let withCa: Record<string, unknown>;

beforeAll(async () => {
  certs = makeTestCertificates();
  server = await RedisTlsServer.start(certs, { password: PASSWORD });
  brokerUrl = `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`;
  withCa = { broker_url: brokerUrl, broker_use_ssl: { ssl_ca_certs: certs.caCert, ssl_cert_reqs: 'CERT_REQUIRED' } };
});
afterAll(async () => {
  await server?.stop();
  certs?.remove();
});

describe('OwnerRestorer on a rediss:// broker with a private CA', () => {
  it('puts back what a dead owner had moved, dialled with broker_use_ssl.ssl_ca_certs', async () => {
    const { logger, lines } = capturingLogger();
    const redis = createRedisConnection(redisUrlFromSettings('broker', withCa), 'test', logger);
    const restorer = new OwnerRestorer(logger);
    try {
      await redis.connect();
      // What a worker killed between its BLMOVE and its record leaves: an entry in its in-flight list.
      await redis.hset('celeriac.owners', OWNER, JSON.stringify({ queues: ['celery'], at: Date.now() }));
      await redis.lpush(`celeriac.inflight.${OWNER}\x06\x16celery`, rawEntry('held'));
      expect(await restorer.restore(brokerUrl, OWNER, '', withCa)).toBe(1);
      expect(await redis.llen('celery')).toBe(1);
      expect(lines().filter((l) => l.event === 'agent.restore_failed')).toEqual([]);
    } finally {
      await restorer.close();
      await closeRedisConnection(redis);
    }
  });

  it('reports the refused certificate when the settings lack the CA', async () => {
    const { logger, lines } = capturingLogger();
    const restorer = new OwnerRestorer(logger);
    try {
      const settings = { broker_url: brokerUrl, broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED' } };
      expect(await restorer.restore(brokerUrl, 'dead:2', '', settings)).toBe(0);
      const failed = lines().filter((l) => l.event === 'agent.restore_failed');
      expect(failed).toHaveLength(1);
      expect(JSON.stringify(failed[0]?.err)).toMatch(/certificate was refused/);
      expect(JSON.stringify(failed)).not.toContain(PASSWORD);
    } finally {
      await restorer.close();
    }
  }, 30_000);
});
