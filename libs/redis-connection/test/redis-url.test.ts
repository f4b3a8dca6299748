import { describe, expect, it } from 'vitest';
import {
  formatRedisTarget,
  parseRedisUrl,
  RedisUrlError,
  redisTargetFromSettings,
  redisUrlFromSettings,
} from '../src/url.js';

/** The message of the RedisUrlError `fn` throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RedisUrlError);
    return (error as Error).message;
  }
  throw new Error('expected a RedisUrlError');
}

describe('parseRedisUrl: every URL kombu and Celery 5.2 take for Redis', () => {
  it.each([
    ['redis://127.0.0.1:6379/0', { kind: 'tcp', host: '127.0.0.1', port: 6379, db: 0, tls: null }],
    ['redis://localhost', { kind: 'tcp', host: 'localhost', port: 6379, db: 0, tls: null }],
    ['redis://', { kind: 'tcp', host: '127.0.0.1', port: 6379, db: 0 }],
    ['redis://:p%40ss@h:7000/3', { kind: 'tcp', host: 'h', port: 7000, db: 3, password: 'p@ss' }],
    ['redis://user:pw@h/1', { kind: 'tcp', username: 'user', password: 'pw', db: 1 }],
    ['redis://[::1]:6380/2', { kind: 'tcp', host: '::1', port: 6380, db: 2 }],
    ['redis://h/0?socket_connect_timeout=2.5', { kind: 'tcp', connectTimeoutMs: 2500 }],
    ['rediss://h:6380/0', { kind: 'tcp', port: 6380, tls: { certReqs: 'required', checkHostname: true } }],
    ['rediss://h/0?ssl_cert_reqs=CERT_NONE', { kind: 'tcp', tls: { certReqs: 'none', checkHostname: true } }],
    ['rediss://h/0?ssl_cert_reqs=optional', { tls: { certReqs: 'optional' } }],
    ['rediss://h/0?ssl_cert_reqs=CERT_OPTIONAL', { tls: { certReqs: 'optional' } }],
    [
      'rediss://h/0?ssl_cert_reqs=required&ssl_ca_certs=%2Fetc%2Fca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_check_hostname=false',
      {
        tls: {
          certReqs: 'required',
          caCerts: '/etc/ca.pem',
          certFile: '/c.pem',
          keyFile: '/k.pem',
          checkHostname: false,
        },
      },
    ],
    [
      'redis+socket:///run/redis/redis.sock',
      { kind: 'socket', path: '/run/redis/redis.sock', db: 0, scheme: 'redis+socket' },
    ],
    ['redis+socket://:pw@/tmp/r.sock?virtual_host=4', { kind: 'socket', path: '/tmp/r.sock', db: 4, password: 'pw' }],
    ['unix:///tmp/r.sock?db=2', { kind: 'socket', path: '/tmp/r.sock', db: 2, scheme: 'unix' }],
    ['unix://:pw@/tmp/r.sock', { kind: 'socket', path: '/tmp/r.sock', db: 0, password: 'pw' }],
  ])('%s', (url, expected) => {
    expect(parseRedisUrl(url)).toMatchObject(expected);
  });

  it('reads sentinel URLs as Celery does: every sentinel, db and password from the first, master_name from the transport options', () => {
    const target = parseRedisUrl('sentinel://:pw@s1:26379/2;sentinel://s2:26380;sentinel://s3', {
      transportOptions: {
        master_name: 'mymaster',
        sentinel_kwargs: { password: 'sentinel-pw' },
        visibility_timeout: 10,
      },
    });
    expect(target).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
        { host: 's3', port: 26379 },
      ],
      masterName: 'mymaster',
      db: 2,
      password: 'pw',
      sentinelPassword: 'sentinel-pw',
      tls: null,
    });
    // A list (kombu takes broker_url as a list too) and master_name in the query read the same.
    expect(
      parseRedisUrl(['sentinel://:pw@s1/2?master_name=mymaster', 'sentinel://s2:26380', 'sentinel://s3']),
    ).toMatchObject({
      sentinels: target.kind === 'sentinel' ? target.sentinels : [],
      masterName: 'mymaster',
    });
  });

  it("reads kombu's failover lists of Redis servers (any mix of redis://, rediss://, sockets) with broker_failover_strategy", () => {
    const target = redisTargetFromSettings('broker', {
      broker_url:
        'redis://:pw@a:6379/2;rediss://:pw@b:6380/2?ssl_cert_reqs=none;redis+socket://:pw@/tmp/r.sock?virtual_host=2',
    });
    expect(target).toEqual({
      kind: 'failover',
      strategy: 'round-robin',
      db: 2,
      password: 'pw',
      alternates: [
        { kind: 'tcp', host: 'a', port: 6379, db: 2, password: 'pw', tls: null },
        { kind: 'tcp', host: 'b', port: 6380, db: 2, password: 'pw', tls: { certReqs: 'none', checkHostname: true } },
        { kind: 'socket', path: '/tmp/r.sock', scheme: 'redis+socket', db: 2, password: 'pw' },
      ],
    });
    const settings = { broker_url: ['redis://a/0', 'redis://b/0'], broker_failover_strategy: 'shuffle' };
    expect(redisTargetFromSettings('broker', settings)).toMatchObject({ kind: 'failover', strategy: 'shuffle' });
    // The strategy travels in the one URL string the broker and backend packages take.
    const url = redisUrlFromSettings('broker', settings);
    expect(url).toBe('redis://a:6379/0?failover_strategy=shuffle;redis://b:6379/0');
    expect(parseRedisUrl(url)).toEqual(redisTargetFromSettings('broker', settings));
    expect(parseRedisUrl(formatRedisTarget(target))).toEqual(target);
    expect(
      refusal(() => redisTargetFromSettings('broker', { ...settings, broker_failover_strategy: 'priority' })),
    ).toMatch(/^broker_failover_strategy: must be "round-robin" or "shuffle"/);
    // The result backend takes a list too (round-robin: Celery has no strategy setting for it).
    expect(
      redisTargetFromSettings('result_backend', { ...settings, result_backend: 'redis://a/1;redis://b/1' }),
    ).toMatchObject({ kind: 'failover', strategy: 'round-robin', db: 1 });
  });

  it('reads TLS to the sentinels from sentinel_kwargs (ssl and ssl_* as redis-py takes them), and carries it in the URL', () => {
    const settings = {
      broker_url: 'sentinel://s1:26379;sentinel://s2:26380',
      broker_transport_options: {
        master_name: 'mymaster',
        sentinel_kwargs: { ssl: true, ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: '/ca.pem', password: 'spw' },
      },
    };
    const target = redisTargetFromSettings('broker', settings);
    expect(target).toMatchObject({
      kind: 'sentinel',
      tls: null,
      sentinelPassword: 'spw',
      sentinelTls: { certReqs: 'required', caCerts: '/ca.pem', checkHostname: true },
    });
    const url = redisUrlFromSettings('broker', settings);
    expect(url).toContain('sentinel_ssl=true&sentinel_ssl_cert_reqs=required&sentinel_ssl_ca_certs=%2Fca.pem');
    expect(parseRedisUrl(url)).toEqual(target);
    const only = { ...settings, broker_transport_options: { master_name: 'm', sentinel_kwargs: { ssl: true } } };
    expect(redisTargetFromSettings('broker', only)).toMatchObject({ sentinelTls: { certReqs: 'required' } });
    const off = { ...settings, broker_transport_options: { master_name: 'm', sentinel_kwargs: { ssl: false } } };
    expect(redisTargetFromSettings('broker', off)).not.toHaveProperty('sentinelTls');
    expect(
      refusal(() =>
        redisTargetFromSettings('broker', {
          ...settings,
          broker_transport_options: { master_name: 'm', sentinel_kwargs: { ssl: false, ssl_ca_certs: '/ca.pem' } },
        }),
      ),
    ).toMatch(/sentinel_kwargs has ssl_\* keys without ssl: true/);
    expect(
      refusal(() =>
        redisTargetFromSettings('broker', {
          ...settings,
          broker_transport_options: { master_name: 'm', sentinel_kwargs: { ssl: true, ssl_cert_reqs: 'sometimes' } },
        }),
      ),
    ).toMatch(/^broker_transport_options.sentinel_kwargs: ssl_cert_reqs must be CERT_REQUIRED/);
  });

  it('turns TLS on from the dict settings (broker_use_ssl), the query winning key by key, as kombu does', () => {
    const target = redisTargetFromSettings('broker', {
      broker_url: 'redis://h:6380/0',
      broker_use_ssl: { ssl_cert_reqs: 2, ssl_ca_certs: '/ca.pem' },
    });
    expect(target).toMatchObject({ kind: 'tcp', tls: { certReqs: 'required', caCerts: '/ca.pem' } });
    expect(
      redisTargetFromSettings('broker', {
        broker_url: 'rediss://h/0?ssl_cert_reqs=none',
        broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: '/ca.pem' },
      }),
    ).toMatchObject({ tls: { certReqs: 'none', caCerts: '/ca.pem' } });
    expect(redisTargetFromSettings('broker', { broker_url: 'redis://h/0', broker_use_ssl: true })).toMatchObject({
      tls: { certReqs: 'required' },
    });
    // Celery's result backend refuses a TLS dict next to redis://.
    expect(
      refusal(() =>
        redisTargetFromSettings('result_backend', {
          result_backend: 'redis://h/1',
          redis_backend_use_ssl: { ssl_cert_reqs: 'none' },
        }),
      ),
    ).toMatch(/^redis_backend_use_ssl: TLS settings are given with a redis:\/\/ result_backend; TLS needs rediss:\/\//);
  });

  it('folds transport options and TLS dicts into one URL that reads back the same', () => {
    const settings = {
      broker_url: 'sentinel://:pw@s1:26379/0;sentinel://s2:26380',
      broker_transport_options: { master_name: 'mymaster', sentinel_kwargs: { password: 'spw', username: 'su' } },
      broker_use_ssl: { ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: '/etc/ssl/ca.pem' },
      result_backend: 'rediss://:pw@h:6380/1',
      redis_backend_use_ssl: { ssl_cert_reqs: 'none' },
    };
    const broker = redisUrlFromSettings('broker', settings);
    expect(broker).toBe(
      'sentinel://:pw@s1:26379/0?master_name=mymaster&sentinel_username=su&sentinel_password=spw&ssl_cert_reqs=required&ssl_ca_certs=%2Fetc%2Fssl%2Fca.pem;sentinel://s2:26380',
    );
    expect(parseRedisUrl(broker)).toEqual(redisTargetFromSettings('broker', settings));
    const backend = redisUrlFromSettings('result_backend', settings);
    expect(backend).toBe('rediss://:pw@h:6380/1?ssl_cert_reqs=none');
    // Without result_backend: the broker's connection.
    expect(redisUrlFromSettings('result_backend', { broker_url: 'redis://h/3' })).toBe('redis://h:6379/3');
    for (const url of [
      'redis+socket:///tmp/r.sock?virtual_host=2',
      'unix://:p%3Bw@/tmp/r.sock?db=1',
      'redis://u:p@[::1]:1/2',
    ]) {
      expect(parseRedisUrl(formatRedisTarget(parseRedisUrl(url)))).toEqual(parseRedisUrl(url));
    }
  });

  it.each([
    [
      'sentinel://s1:26379;sentinel://s2:26379',
      /needs the master group's name: set broker_transport_options = \{"master_name"/,
    ],
    ['redis://a:6379/0;sentinel://b:26379', /a list mixes sentinel:\/\/ with other URLs/],
    [
      'redis://:pw@a:6379/0;redis://b:6379/0',
      /URL 2 of the failover list gives another user and password than the first/,
    ],
    ['redis://a/0;redis://b/1', /URL 2 of the failover list gives another database number than the first/],
    ['redis://a/0?failover_strategy=shuffle', /the query parameter "failover_strategy" is not one Celeriac reads/],
    ['redis://a/0;redis://b/0?failover_strategy=random', /must be "round-robin" or "shuffle"/],
    ['redis://h/0?ssl_cert_reqs=none', /ssl_cert_reqs is given with a redis:\/\/ URL; TLS needs rediss:\/\//],
    ['rediss://h/0?ssl_cert_reqs=maybe', /ssl_cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE/],
    ['rediss://h/0?ssl_keyfile=/k.pem', /ssl_keyfile is set without ssl_certfile/],
    ['redis://h/0?health=1', /the query parameter "health" is not one Celeriac reads for redis:\/\//],
    ['redis+socket://localhost/tmp/r.sock', /a socket URL has no host: write redis\+socket:\/\/\/path/],
    ['unix://', /needs the socket's path/],
    ['amqp://guest:pw@rabbit//', /RabbitMQ \(amqp:\/\/\) is not supported yet/],
    ['rpc://', /the scheme "rpc:\/\/" is not one Celeriac connects with/],
    ['redis://h:99999/0', /the port "99999" is not a port number/],
    ['redis://h/main', /must be a database number/],
  ])('refuses %s with a message naming the setting', (url, message) => {
    const text = refusal(() => redisTargetFromSettings('broker', { broker_url: url }));
    expect(text).toMatch(/^broker_url: /);
    expect(text).toMatch(message);
  });

  it('refuses sentinel_kwargs it does not honour and never repeats a password', () => {
    expect(
      refusal(() =>
        parseRedisUrl('sentinel://s1', {
          transportOptions: { master_name: 'm', sentinel_kwargs: { socket_timeout: 1 } },
          transportOptionsSetting: 'broker_transport_options',
        }),
      ),
    ).toMatch(/sentinel_kwargs.socket_timeout is not honoured/);
    for (const url of [
      'redis://admin:hunter2-pw/0',
      'redis://:hunter2-pw@h:99999/0',
      'amqp://u:hunter2-pw@h//',
      'redis://:hunter2-pw@h/0?x=1',
    ]) {
      expect(refusal(() => parseRedisUrl(url))).not.toContain('hunter2-pw');
    }
  });
});
