import { describe, expect, it } from 'vitest';
import { SUPPORTED_URL_SCHEMES, validateEffectiveConfig, validateLayer } from '../src/index.js';

/** The issues of a defaults layer holding these Celery settings. */
function issuesOf(celery: Record<string, unknown>): { path: string; message: string }[] {
  const result = validateLayer('defaults', { celery });
  return result.ok ? [] : result.issues;
}

describe('broker and result backend URLs (the parser of @celeriac/redis-connection)', () => {
  it('accepts every Redis URL kombu takes: redis, rediss with ssl_*, unix sockets, sentinel lists', () => {
    expect([...SUPPORTED_URL_SCHEMES]).toEqual(['redis', 'rediss', 'redis+socket', 'unix', 'sentinel']);
    for (const url of [
      'redis://127.0.0.1:6379/0',
      'redis://:s3cret@10.0.0.5:6379/1',
      'redis://user:pw@host',
      'rediss://cache.example.com:6380/2?ssl_cert_reqs=required',
      'rediss://h:6380/0?ssl_cert_reqs=CERT_NONE',
      'rediss://h/0?ssl_cert_reqs=CERT_REQUIRED&ssl_ca_certs=/etc/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem',
      'redis://[::1]:6379/0',
      'redis://localhost',
      'redis://localhost/',
      'redis+socket:///run/redis/redis.sock',
      'redis+socket:///tmp/r.sock?virtual_host=2',
      'unix:///tmp/r.sock?db=1',
      // master_name may come from broker_transport_options in another layer.
      'sentinel://s1:26379;sentinel://s2:26379;sentinel://s3:26379',
      'sentinel://:pw@s1:26379/1;sentinel://s2:26380',
      // kombu's failover lists of Redis servers.
      'redis://a:6379/0;redis://b:6379/0',
      'redis://:pw@a/1;rediss://:pw@b:6380/1?ssl_cert_reqs=none;redis+socket://:pw@/tmp/r.sock?virtual_host=1',
    ]) {
      expect(issuesOf({ broker_url: url, result_backend: url }), url).toEqual([]);
    }
    expect(issuesOf({ broker_url: ['sentinel://s1:26379', 'sentinel://s2:26379'] })).toEqual([]);
  });

  it.each([
    ['port notaport', 'redis://user:pw@host:notaport/0', /the port "notaport" is not a port number; use 1 to 65535/],
    ['port 99999', 'redis://host:99999/0', /the port "99999" is not a port number; use 1 to 65535/],
    ['port 0', 'redis://host:0/0', /the port "0" is not a port number/],
    ['an unknown scheme', 'notaurl://host:6379/0', /the scheme "notaurl:\/\/" is not one Celeriac connects with/],
    ['a database that is not a number', 'redis://host:6379/main', /the path after the host must be a database number/],
    ['ssl_* with redis://', 'redis://h/0?ssl_cert_reqs=none', /TLS needs rediss:\/\//],
    [
      'a bad ssl_cert_reqs',
      'rediss://h/0?ssl_cert_reqs=sometimes',
      /ssl_cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE/,
    ],
    ['a socket URL with a host', 'unix://localhost/tmp/r.sock', /a socket URL has no host/],
    [
      'a failover list whose URLs disagree on the password',
      'redis://:pw@a:6379/0;redis://b:6379/0',
      /URL 2 of the failover list gives another user and password than the first/,
    ],
    ['a list mixing sentinel and redis', 'redis://a/0;sentinel://s1:26379', /a list mixes sentinel:\/\//],
  ])('refuses %s, naming the setting', (_what, url, message) => {
    const issues = issuesOf({ broker_url: url });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('celery.broker_url');
    expect(issues[0]?.message).toMatch(message);
    expect(issues[0]?.message).toMatch(/^broker_url\b/);
  });

  it('accepts RabbitMQ broker URLs (amqp://, amqps://, pyamqp://) and refuses them as result backend', () => {
    for (const url of [
      'amqp://guest:pw@rabbit:5672//',
      'amqps://u:p@rabbit/vh',
      'pyamqp://rabbit',
      'AMQP://rabbit:5672/%2F',
    ]) {
      expect(issuesOf({ broker_url: url })).toEqual([]);
    }
    const [backend] = issuesOf({ result_backend: 'amqp://guest:pw@rabbit:5672//' });
    expect(backend?.message).toContain('RabbitMQ (amqp://) is not supported yet');
    expect(issuesOf({ broker_url: 'librabbitmq://rabbit//' })[0]?.message).toContain('is not supported yet');
  });

  it('names what is wrong in an amqp:// broker URL without repeating the password', () => {
    const [noHost] = issuesOf({ broker_url: 'amqp://guest:hunter2-pw@:5672//' });
    expect(noHost?.message).toMatch(/^broker_url: the amqp:\/\/ URL (has no host|cannot be read)/);
    expect(noHost?.message).not.toContain('hunter2-pw');
    const [badPort] = issuesOf({ broker_url: 'amqp://guest:hunter2-pw@rabbit:99999//' });
    expect(badPort?.message).toMatch(/^broker_url: the amqp:\/\/ URL cannot be read/);
    expect(badPort?.message).not.toContain('hunter2-pw');
    const [query] = issuesOf({ broker_url: 'amqp://rabbit//?heartbeat=5' });
    expect(query?.message).toContain('query options');
  });

  it('checks result_backend and the old upper-case names the same way', () => {
    expect(issuesOf({ result_backend: 'rpc://' })).toEqual([
      { path: 'celery.result_backend', message: expect.stringMatching(/^result_backend: the scheme "rpc:\/\/"/) },
    ]);
    const old = issuesOf({ BROKER_URL: 'librabbitmq://guest:pw@rabbit//', CELERY_RESULT_BACKEND: 'redis://h:70000/1' });
    expect(old.map((issue) => issue.path).sort()).toEqual(['celery.broker_url', 'celery.result_backend']);
    expect(old.find((i) => i.path === 'celery.broker_url')?.message).toContain('(set as BROKER_URL)');
    expect(old.find((i) => i.path === 'celery.result_backend')?.message).toContain('(set as CELERY_RESULT_BACKEND)');
    const effective = validateEffectiveConfig({ celery: { broker_url: 'redis://h:123456/0' }, programs: {} });
    expect(effective.ok).toBe(false);
  });

  it('never repeats a password, also when it sits where a port belongs', () => {
    const secrets = [
      ['amqp://guest:hunter2-pw@rabbit:99999//', 'hunter2-pw'],
      ['notaurl://:hunter2-pw@host/0', 'hunter2-pw'],
      ['redis://:hunter2-pw@host:99999/0', 'hunter2-pw'],
      ['redis://admin:hunter2-pw/0', 'hunter2-pw'],
      ['redis://:hunter2-pw/0', 'hunter2-pw'],
      ['redis://:hunter2-pw@host/secretdb', 'secretdb'],
      ['sentinel://:hunter2-pw@s1;redis://b', 'hunter2-pw'],
      ['localhost:6379 password=hunter2-pw', 'hunter2-pw'],
    ];
    for (const [url, secret] of secrets) {
      const issues = issuesOf({ broker_url: url });
      expect(issues, url).toHaveLength(1);
      expect(JSON.stringify(issues), url).not.toContain(secret as string);
    }
    expect(issuesOf({ broker_url: 'redis://admin:hunter2-pw/0' })[0]?.message).toContain(
      'if it is a password, put it before the host',
    );
  });

  it('refuses values that are not URLs', () => {
    for (const bad of ['', 'redis://host:6379/0 extra', 5, { url: 'redis://h' }, []]) {
      expect(issuesOf({ broker_url: bad })[0]?.message, JSON.stringify(bad)).toMatch(/^broker_url: /);
    }
  });

  it('checks the TLS dicts broker_use_ssl and redis_backend_use_ssl', () => {
    expect(
      issuesOf({
        broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: '/etc/ca.pem' },
        redis_backend_use_ssl: { ssl_cert_reqs: 0 },
      }),
    ).toEqual([]);
    expect(issuesOf({ broker_use_ssl: true })).toEqual([]);
    expect(issuesOf({ broker_use_ssl: { ssl_cert_reqs: 'sometimes' } })[0]).toEqual({
      path: 'celery.broker_use_ssl',
      message: expect.stringMatching(/ssl_cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE/),
    });
    expect(issuesOf({ redis_backend_use_ssl: { ssl_verify: true } })[0]?.message).toMatch(
      /"ssl_verify" is not a TLS key Celeriac reads/,
    );
  });

  it('accepts RabbitMQ failover lists and refuses a bad entry by its position, as the AMQP broker does', () => {
    for (const url of [
      'amqp://a:5672//;amqp://b:5672//',
      'amqp://u:p@a/vh; amqps://u:p@b/vh',
      'pyamqp://a;amqp://b;',
    ]) {
      expect(issuesOf({ broker_url: url }), url).toEqual([]);
    }
    const [mixed] = issuesOf({ broker_url: 'amqp://a//;redis://b:6379/0' });
    expect(mixed?.message).toMatch(
      /^broker_url \(entry 2 of the ;-separated list\): every URL of a RabbitMQ failover list/,
    );
    const [noHost] = issuesOf({ broker_url: 'amqp://a//;amqp://guest:hunter2-pw@:5672//' });
    expect(noHost?.message).toMatch(/entry 2 .*the amqp:\/\/ URL (has no host|cannot be read)/);
    expect(noHost?.message).not.toContain('hunter2-pw');
  });

  it("checks broker_use_ssl in kombu's pyamqp form for RabbitMQ, and broker_failover_strategy", () => {
    expect(
      issuesOf({
        broker_url: 'amqps://rabbit//',
        broker_use_ssl: { ca_certs: '/ca.pem', certfile: '/c.pem', keyfile: '/k.pem', cert_reqs: 'CERT_REQUIRED' },
      }),
    ).toEqual([]);
    expect(issuesOf({ broker_use_ssl: { cert_reqs: 0 } })).toEqual([]);
    const [badReqs] = issuesOf({ broker_use_ssl: { ca_certs: '/ca.pem', cert_reqs: 'sometimes' } });
    expect(badReqs).toEqual({
      path: 'celery.broker_use_ssl',
      message: expect.stringMatching(/^broker_use_ssl: cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE/),
    });
    const [mixed] = issuesOf({ broker_use_ssl: { ca_certs: '/ca.pem', ssl_certfile: '/c.pem' } });
    expect(mixed?.message).toMatch(/ssl_certfile is not one/);
    const [keyOnly] = issuesOf({ broker_use_ssl: { keyfile: '/k.pem' } });
    expect(keyOnly?.message).toMatch(/keyfile needs certfile/);
    expect(issuesOf({ broker_failover_strategy: 'shuffle' })).toEqual([]);
    expect(issuesOf({ broker_failover_strategy: 'random' })[0]?.message).toMatch(
      /^broker_failover_strategy: must be "round-robin" or "shuffle"/,
    );
  });
});
