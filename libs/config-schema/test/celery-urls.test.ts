import { describe, expect, it } from 'vitest';
import { SUPPORTED_URL_SCHEMES, validateEffectiveConfig, validateLayer } from '../src/index.js';

/** The issues of a defaults layer holding these Celery settings. */
function issuesOf(celery: Record<string, unknown>): { path: string; message: string }[] {
  const result = validateLayer('defaults', { celery });
  return result.ok ? [] : result.issues;
}

describe('broker and result backend URLs', () => {
  it('accepts exactly the schemes a Celeriac worker connects with', () => {
    expect([...SUPPORTED_URL_SCHEMES]).toEqual(['redis', 'rediss']);
    for (const url of [
      'redis://127.0.0.1:6379/0',
      'redis://:s3cret@10.0.0.5:6379/1',
      'redis://user:pw@host',
      'rediss://cache.example.com:6380/2?ssl_cert_reqs=required',
      'redis://[::1]:6379/0',
      'redis://localhost',
      'redis://localhost/',
    ]) {
      expect(issuesOf({ broker_url: url, result_backend: url }), url).toEqual([]);
    }
  });

  it.each([
    ['port notaport', 'redis://user:pw@host:notaport/0', /the port "notaport" is not a port number; use 1 to 65535/],
    ['port 99999', 'redis://host:99999/0', /the port "99999" is not a port number; use 1 to 65535/],
    ['port 0', 'redis://host:0/0', /the port "0" is not a port number/],
    [
      'an unknown scheme',
      'notaurl://host:6379/0',
      /the scheme "notaurl:\/\/", which a Celeriac worker cannot connect with/,
    ],
    ['a database that is not a number', 'redis://host:6379/main', /the path after the host must be a database number/],
  ])('refuses %s, naming the setting and the accepted schemes', (_what, url, message) => {
    const issues = issuesOf({ broker_url: url });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('celery.broker_url');
    expect(issues[0]?.message).toMatch(message);
    expect(issues[0]?.message).toMatch(/^broker_url\b/);
    expect(issues[0]?.message).toContain('redis:// or rediss://');
  });

  it('refuses amqp:// as not supported yet', () => {
    const [issue] = issuesOf({ broker_url: 'amqp://guest:pw@rabbit:5672//' });
    expect(issue?.message).toContain('RabbitMQ (amqp://) is not supported yet');
    expect(issue?.message).toContain('use redis:// or rediss://');
  });

  it('checks result_backend and the old upper-case names the same way', () => {
    expect(issuesOf({ result_backend: 'rpc://' })).toEqual([
      { path: 'celery.result_backend', message: expect.stringMatching(/^result_backend uses the scheme "rpc:\/\/"/) },
    ]);
    const old = issuesOf({ BROKER_URL: 'amqp://guest:pw@rabbit//', CELERY_RESULT_BACKEND: 'redis://h:70000/1' });
    expect(old.map((issue) => issue.path).sort()).toEqual(['celery.broker_url', 'celery.result_backend']);
    expect(old.find((i) => i.path === 'celery.broker_url')?.message).toContain('(set as BROKER_URL)');
    expect(old.find((i) => i.path === 'celery.result_backend')?.message).toContain('(set as CELERY_RESULT_BACKEND)');
    const effective = validateEffectiveConfig({ celery: { broker_url: 'redis://h:123456/0' }, programs: {} });
    expect(effective.ok).toBe(false);
  });

  it('never repeats a password, also when it sits where a port belongs', () => {
    const secrets = [
      ['amqp://guest:hunter2-pw@rabbit:5672//', 'hunter2-pw'],
      ['notaurl://:hunter2-pw@host/0', 'hunter2-pw'],
      ['redis://:hunter2-pw@host:99999/0', 'hunter2-pw'],
      ['redis://admin:hunter2-pw/0', 'hunter2-pw'],
      ['redis://:hunter2-pw/0', 'hunter2-pw'],
      ['redis://:hunter2-pw@host/secretdb', 'secretdb'],
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

  it('refuses lists of URLs, which no Celeriac worker reads, and values that are not URLs', () => {
    expect(issuesOf({ broker_url: ['redis://a:6379/0', 'redis://b:6379/0'] })[0]?.message).toContain(
      'a list of URLs (failover) is not supported yet',
    );
    expect(issuesOf({ broker_url: 'redis://a:6379/0;redis://b:6379/0' })[0]?.message).toContain(
      'a list of URLs (failover) is not supported yet',
    );
    for (const bad of ['', 'redis://host:6379/0 extra', 5, { url: 'redis://h' }]) {
      expect(issuesOf({ broker_url: bad })[0]?.message, JSON.stringify(bad)).toContain(
        'must be one redis:// or rediss:// URL such as "redis://host:6379/0"',
      );
    }
  });
});
