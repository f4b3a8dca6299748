// TLS to a real `redis-server --tls-port` with a CA this test makes (openssl CLI): certificate
// checks on, a wrong CA refused once with a clear error, CERT_NONE, client certificates, and real
// Python Celery 5.2 and Celeriac on the same rediss:// URL in both directions.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderCeleryconfig } from '@celeriac/agent';
import { Celeriac } from '@celeriac/client';
import { logSchemaViolations } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection, RedisTlsError } from '@celeriac/redis-connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger } from '../support/capturing-logger.js';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisTlsServer } from '../support/redis-tls-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';

const PASSWORD = 'tls-s3cret-pw';

describe('rediss:// against redis-server --tls-port', { timeout: 120_000 }, () => {
  let certs: TestCertificates;
  let server: RedisTlsServer;
  let mutual: RedisTlsServer;
  const url = (db: number, query: Record<string, string>, port = server.port) =>
    `rediss://:${PASSWORD}@127.0.0.1:${port}/${db}?${new URLSearchParams(query).toString()}`;

  beforeAll(async () => {
    certs = makeTestCertificates();
    server = await RedisTlsServer.start(certs, { password: PASSWORD });
    mutual = await RedisTlsServer.start(certs, { password: PASSWORD, authClients: true });
  });
  afterAll(async () => {
    await server?.stop();
    await mutual?.stop();
    certs?.remove();
  });

  /** Connects one connection, PINGs, closes; resolves with the reply or the error. */
  async function ping(target: string) {
    const { logger, lines } = capturingLogger();
    const redis = createRedisConnection(target, 'tls-test', logger);
    try {
      await redis.connect();
      return { reply: await redis.ping(), lines };
    } catch (error) {
      // Give a retry loop, if there were one, time to show itself.
      await new Promise((r) => setTimeout(r, 1_500));
      return { error: error as Error, lines, status: redis.status };
    } finally {
      await closeRedisConnection(redis);
    }
  }

  it('checks the certificate against ssl_ca_certs (CERT_REQUIRED, required, CERT_OPTIONAL)', async () => {
    for (const reqs of ['CERT_REQUIRED', 'required', 'CERT_OPTIONAL']) {
      const out = await ping(url(0, { ssl_cert_reqs: reqs, ssl_ca_certs: certs.caCert }));
      expect(out.error, reqs).toBeUndefined();
      expect(out.reply).toBe('PONG');
    }
  });

  it('refuses a server signed by another CA once, with an error naming the URL (redacted) and the problem', async () => {
    const queries: Record<string, string>[] = [
      { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: certs.otherCaCert },
      // rediss:// without ssl_ca_certs: the system CAs, which never signed the test's CA.
      { ssl_cert_reqs: 'required' },
    ];
    for (const query of queries) {
      const out = await ping(url(0, query));
      expect(out.error).toBeInstanceOf(RedisTlsError);
      expect((out.error as RedisTlsError).code).toBe('REDIS_TLS_CERTIFICATE');
      const message = String(out.error?.message);
      expect(message).toContain(`TLS to rediss://:***@127.0.0.1:${server.port}/0`);
      expect(message).toMatch(/certificate was refused: set ssl_ca_certs/);
      expect(message).toMatch(/self[- ]signed certificate|unable to verify|unable to get/i);
      expect(message).not.toContain(PASSWORD);
      // One error line, no reconnect loop: the connection ended.
      const logged = out.lines();
      expect(logged.filter((l) => l.event === 'redis.tls_refused')).toHaveLength(1);
      expect(logged.filter((l) => l.event === 'redis.connection_error')).toHaveLength(0);
      expect(out.status).toBe('end');
      expect(JSON.stringify(logged)).not.toContain(PASSWORD);
      for (const line of logged) expect(logSchemaViolations(line)).toEqual([]);
    }
  });

  it('accepts any certificate with CERT_NONE (query string or broker_use_ssl dict)', async () => {
    const out = await ping(url(0, { ssl_cert_reqs: 'CERT_NONE' }));
    expect(out.reply).toBe('PONG');
    const app = new Celeriac('tls-none', {
      broker_url: `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`,
      broker_use_ssl: { ssl_cert_reqs: 'none' },
    });
    try {
      await app.broker().start();
      await app.broker().publish('tls-none-q', 'x');
    } finally {
      await app.close();
    }
  });

  it('the app refuses the wrong CA from start with the clear error, and names an unreadable CA file', async () => {
    const app = new Celeriac('tls-wrong', {
      broker_url: `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`,
      broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: certs.otherCaCert },
    });
    try {
      const error = await app
        .broker()
        .start()
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(String(error?.message)).toMatch(/certificate was refused: set ssl_ca_certs/);
      expect(String(error?.message)).not.toContain(PASSWORD);
    } finally {
      await app.close();
    }
    const missing = await ping(url(0, { ssl_cert_reqs: 'required', ssl_ca_certs: '/nonexistent/ca.pem' })).catch(
      (e: Error) => ({ error: e }),
    );
    expect(missing.error).toBeInstanceOf(RedisTlsError);
    expect((missing.error as RedisTlsError).code).toBe('REDIS_TLS_FILE');
    expect(missing.error?.message).toContain('cannot read ssl_ca_certs "/nonexistent/ca.pem" (ENOENT)');
  });

  it('a celeriac worker given the wrong CA exits with the certificate problem instead of retrying forever', async () => {
    const config = {
      broker_url: `rediss://:${PASSWORD}@127.0.0.1:${server.port}/0`,
      broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: certs.otherCaCert },
    };
    const worker = CeleriacWorkerProcess.spawn({ config, queues: ['celery'] });
    const exit = await Promise.race([
      worker.program.exited,
      new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
    ]);
    if (exit === null) await worker.kill();
    expect(exit, worker.program.output()).not.toBeNull();
    expect(exit?.code).not.toBe(0);
    const output = worker.program.output();
    expect(output).toMatch(/certificate was refused: set ssl_ca_certs/);
    expect(output).not.toContain(PASSWORD);
    // Once per connection at most, not a loop: the worker opens a handful of connections.
    expect(output.match(/"event":"redis.tls_refused"/g)?.length ?? 0).toBeLessThanOrEqual(4);
    expect(output.match(/"event":"redis.connection_error"/g)?.length ?? 0).toBe(0);
  });

  it('sends a client certificate (ssl_certfile / ssl_keyfile) when the server requires one', async () => {
    const without = await ping(url(0, { ssl_cert_reqs: 'required', ssl_ca_certs: certs.caCert }, mutual.port));
    expect(without.error).toBeInstanceOf(RedisTlsError);
    expect(without.error?.message).toMatch(
      /server refused the TLS handshake; when it requires a client certificate, set ssl_certfile/,
    );
    expect(without.error?.message).toMatch(/certificate required/);
    expect(without.error?.message).not.toContain(PASSWORD);
    const withCert = await ping(
      url(
        0,
        {
          ssl_cert_reqs: 'required',
          ssl_ca_certs: certs.caCert,
          ssl_certfile: certs.clientCert,
          ssl_keyfile: certs.clientKey,
        },
        mutual.port,
      ),
    );
    expect(withCert.error).toBeUndefined();
    expect(withCert.reply).toBe('PONG');
  });

  it('Python Celery and Celeriac interoperate on the same TLS URL, both directions, with client certificates', async () => {
    const query = {
      ssl_cert_reqs: 'required',
      ssl_ca_certs: certs.caCert,
      ssl_certfile: certs.clientCert,
      ssl_keyfile: certs.clientKey,
    };
    const config = { broker_url: url(0, query, mutual.port), result_backend: url(1, query, mutual.port) };
    // Python client -> Celeriac worker (the built CLI).
    const tsWorker = await CeleriacWorkerProcess.start({ config, queues: ['celery'] });
    try {
      const lines = await runPythonClient(
        [{ op: 'send', ref: 'add', name: 'tasks.add', args: [20, 22], wait: 30 }],
        config,
      );
      expect(lines.find((l) => l.ref === 'add')).toMatchObject({ ok: true, state: 'SUCCESS', result: 42 });
    } finally {
      await tsWorker.stop();
    }
    // Celeriac client -> Python worker.
    const pyWorker = await CeleryWorker.start({ config, queues: ['py-tls'], pool: 'solo' });
    const app = new Celeriac('tls-client', config);
    try {
      const result = await app.sendTask('tasks.add', [1, 2], {}, { queue: 'py-tls' });
      expect(await result.get({ timeout: 30_000 })).toBe(3);
    } finally {
      await app.close();
      await pyWorker.stop();
    }
  });

  it("the agent's rendered celeryconfig.py connects a Python worker the same way (query ssl_* and TLS dict)", async () => {
    const settings = {
      broker_url: url(
        0,
        {
          ssl_cert_reqs: 'CERT_REQUIRED',
          ssl_ca_certs: certs.caCert,
          ssl_certfile: certs.clientCert,
          ssl_keyfile: certs.clientKey,
        },
        mutual.port,
      ),
      result_backend: `rediss://:${PASSWORD}@127.0.0.1:${mutual.port}/1`,
      redis_backend_use_ssl: {
        ssl_cert_reqs: 'required',
        ssl_ca_certs: certs.caCert,
        ssl_certfile: certs.clientCert,
        ssl_keyfile: certs.clientKey,
      },
    };
    const source = renderCeleryconfig(settings, { node: 'n', program: 'py', revision: 1 });
    expect(source).toContain('broker_use_ssl = {"ssl_cert_reqs": "required"');
    writeFileSync(path.join(certs.dir, 'celeryconfig_tls.py'), source);
    // What Celery reads from the module: handed to the pytasks worker as its whole config.
    const read = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          `
import json, sys
sys.path.insert(0, ${JSON.stringify(certs.dir)})
import celeryconfig_tls as m
print(json.dumps({n: getattr(m, n) for n in dir(m) if not n.startswith('__')}))
`,
        ],
        { encoding: 'utf8' },
      ),
    ) as Record<string, unknown>;
    expect(read.broker_url).toBe(`rediss://:${PASSWORD}@127.0.0.1:${mutual.port}/0`);
    const pyWorker = await CeleryWorker.start({ config: read, queues: ['py-rendered'], pool: 'solo' });
    const app = new Celeriac('tls-rendered', settings);
    try {
      const result = await app.sendTask('tasks.add', [40, 2], {}, { queue: 'py-rendered' });
      expect(await result.get({ timeout: 30_000 })).toBe(42);
    } finally {
      await app.close();
      await pyWorker.stop();
    }
  });
});
