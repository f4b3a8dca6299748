// TLS to the sentinels themselves (`sentinel_kwargs: {ssl: true, ssl_ca_certs: ...}`, as kombu and
// redis-py take it): a redis-sentinel that listens only on `tls-port`, with a CA this test makes,
// watching a plain master. Our client and a Python Celery 5.2 worker both go through it; a wrong
// CA, or no TLS, gets no master.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection, redisUrlFromSettings } from '@celeriac/redis-connection';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger } from '../support/capturing-logger.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';
import { TlsSentinel } from '../support/tls-sentinel.js';

const MASTER = 'tlsmaster';

describe('sentinel:// with TLS to the sentinels', { timeout: 90_000 }, () => {
  let certs: TestCertificates;
  let master: RedisServer;
  let sentinel: TlsSentinel;
  let sentinelPort: number;

  /** Celery settings for broker and results through the TLS sentinel, trusting `ca`. */
  const settings = (ca: string, ssl: Record<string, unknown> = {}) => {
    const options = {
      master_name: MASTER,
      sentinel_kwargs: { ssl: true, ssl_cert_reqs: 'required', ssl_ca_certs: ca, ...ssl },
    };
    return {
      broker_url: `sentinel://127.0.0.1:${sentinelPort}/0`,
      broker_transport_options: options,
      result_backend: `sentinel://127.0.0.1:${sentinelPort}/1`,
      result_backend_transport_options: options,
    };
  };

  beforeAll(async () => {
    certs = makeTestCertificates();
    master = await RedisServer.start();
    sentinel = await TlsSentinel.start(certs, MASTER, master.port);
    sentinelPort = sentinel.port;
  });

  afterAll(async () => {
    await sentinel?.stop();
    await master?.stop();
    certs?.remove();
  });

  it('our client and a Python Celery worker reach the master through the TLS sentinel', async () => {
    const config = settings(certs.caCert);
    const worker = await CeleryWorker.start({ config, queues: ['sentinel-tls'], pool: 'solo' });
    const app = new Celeriac('sentinel-tls', config, { logger: createLogger({ level: 'error', pretty: false }) });
    try {
      const result = await app.sendTask('tasks.add', [20, 22], {}, { queue: 'sentinel-tls' });
      expect(await result.get({ timeout: 20_000 })).toBe(42);
      // The result is on the master the sentinel named, in the result backend's database.
      const direct = new Redis(master.url(1));
      expect(await direct.exists(`celery-task-meta-${result.id}`)).toBe(1);
      direct.disconnect();
    } finally {
      await app.close();
      await worker.stop();
    }
  });

  it('a CA that did not sign the sentinel is refused once with the reason; no TLS to it gets no master', async () => {
    const { logger, lines } = capturingLogger('warn');
    const wrong = createRedisConnection(redisUrlFromSettings('broker', settings(certs.otherCaCert)), 'wrong', logger);
    const plain = createRedisConnection(
      `sentinel://127.0.0.1:${sentinelPort}/0?master_name=${MASTER}`,
      'plain',
      logger,
    );
    try {
      const refused = await wrong.connect().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 'REDIS_TLS_CERTIFICATE' });
      expect(String((refused as Error).message)).toMatch(
        new RegExp(
          `^TLS to the sentinel 127\\.0\\.0\\.1:${sentinelPort} \\(sentinel_kwargs TLS\\) of sentinel://.*certificate was refused`,
        ),
      );
      expect(lines().filter((l) => l.event === 'redis.tls_refused' && l.role === 'wrong')).toHaveLength(1);
      const outcome = await Promise.race([
        plain.connect().then(
          () => 'connected',
          () => 'refused',
        ),
        new Promise((resolve) => setTimeout(() => resolve('no master yet'), 3_000)),
      ]);
      expect(outcome).not.toBe('connected');
      expect(plain.status).not.toBe('ready');
    } finally {
      await Promise.all([closeRedisConnection(wrong), closeRedisConnection(plain)]);
    }
  });
});
