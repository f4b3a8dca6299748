// The fleet limit document goes to the broker's Redis dialled with the config's broker_use_ssl (a
// private CA), as the workers that read it connect: written and readable over TLS; without the CA
// in the settings the apply reports the refused certificate instead.
import { FLEET_LIMITS_KEY } from '@celeriac/broker';
import { type EffectiveConfig, validateEffectiveConfig } from '@celeriac/config-schema';
import { createLogger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection, redisUrlFromSettings } from '@celeriac/redis-connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTlsServer } from '../../../test/support/redis-tls-server.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { FleetLimitsPublisher } from '../src/fleet-limits-publisher.js';

const PASSWORD = 'fleet-tls-pw';
const logger = createLogger({ level: 'silent' });
let certs: TestCertificates;
let server: RedisTlsServer;

beforeAll(async () => {
  certs = makeTestCertificates();
  server = await RedisTlsServer.start(certs, { password: PASSWORD });
});
afterAll(async () => {
  await server?.stop();
  certs?.remove();
});

function config(useSsl: Record<string, unknown>): EffectiveConfig {
  const result = validateEffectiveConfig({
    celery: {
      broker_url: `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`,
      broker_use_ssl: useSsl,
      task_annotations: { 'tasks.add': { fleet_rate_limit: '20/s' } },
    },
    programs: { w: { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'] } },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

describe('FleetLimitsPublisher on a rediss:// broker with a private CA', () => {
  it('writes the document with broker_use_ssl.ssl_ca_certs', async () => {
    const publisher = new FleetLimitsPublisher('a', logger);
    const withCa = config({ ssl_ca_certs: certs.caCert, ssl_cert_reqs: 'CERT_REQUIRED' });
    const reader = createRedisConnection(redisUrlFromSettings('broker', withCa.celery), 'test-reader', logger);
    try {
      const published = await publisher.publish(withCa, 3);
      expect(published.error).toBeUndefined();
      expect(published.changed).toBe(true);
      await reader.connect();
      expect(JSON.parse((await reader.get(FLEET_LIMITS_KEY)) as string)).toMatchObject({ version: 1, revision: 3 });
    } finally {
      await closeRedisConnection(reader);
      await publisher.close();
    }
  });

  it('reports the refused certificate when the settings lack the CA', async () => {
    const publisher = new FleetLimitsPublisher('b', logger);
    try {
      const result = await publisher.publish(config({ ssl_cert_reqs: 'CERT_REQUIRED' }), 4);
      expect(result.changed).toBe(false);
      expect(result.error).toMatch(/certificate was refused/);
      expect(result.error).not.toContain(PASSWORD);
    } finally {
      await publisher.close();
    }
  }, 30_000);
});
