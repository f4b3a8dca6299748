import { describe, expect, it } from 'vitest';
import { redactSecrets, redactUrl } from '../src/index.js';
import { capturingLogger } from './support.js';

const PASSWORD = 's3cr3t-pw';

describe('redactUrl', () => {
  it.each([
    ['redis://:s3cr3t-pw@10.0.0.5:6379/0', 'redis://:***@10.0.0.5:6379/0'],
    ['rediss://default:s3cr3t-pw@host:6380', 'rediss://default:***@host:6380'],
    ['amqp://guest:s3cr3t-pw@host/', 'amqp://guest:***@host/'],
    ['amqps://u:s3cr3t-pw@host:5671/vhost', 'amqps://u:***@host:5671/vhost'],
    [
      'sentinel://:s3cr3t-pw@127.0.0.1:26379;sentinel://:s3cr3t-pw@127.0.0.1:26380',
      'sentinel://:***@127.0.0.1:26379;sentinel://:***@127.0.0.1:26380',
    ],
    ['unix://:s3cr3t-pw@/var/run/redis.sock', 'unix://:***@/var/run/redis.sock'],
    ['redis+socket://:s3cr3t-pw@/tmp/r.sock', 'redis+socket://:***@/tmp/r.sock'],
    ['whatever-scheme://me:s3cr3t-pw@example.org', 'whatever-scheme://me:***@example.org'],
    ['redis://:p@ss:w@rd-s3cr3t-pw@host:1/0', 'redis://:***@host:1/0'],
    [
      'broker redis://:s3cr3t-pw@h:1 and backend redis://:s3cr3t-pw@h:2',
      'broker redis://:***@h:1 and backend redis://:***@h:2',
    ],
  ])('masks the password of %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
    expect(redactUrl(input)).not.toContain(PASSWORD);
  });

  it('leaves URLs without a password alone', () => {
    expect(redactUrl('redis://127.0.0.1:6379/0 and amqp://guest@host/')).toBe(
      'redis://127.0.0.1:6379/0 and amqp://guest@host/',
    );
  });
});

describe('redactSecrets', () => {
  it('masks bearer tokens and token=/password= pairs', () => {
    const text = redactSecrets(
      `Authorization: Bearer abc.def-123 token=${PASSWORD} "password": "${PASSWORD}" ?password=${PASSWORD}&x=1`,
    );
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('abc.def-123');
    expect(text).toContain('&x=1');
  });
});

describe('createLogger never prints a secret', () => {
  const url = `amqp://guest:${PASSWORD}@host/`;

  it('in an Error logged as { err }: message, stack, cause and own fields', () => {
    const { logger, text, lines } = capturingLogger();
    const cause = new Error(`connect failed for redis://:${PASSWORD}@h:1`);
    const error = Object.assign(new Error(`cannot reach ${url}`, { cause }), { url, code: 'X_FAILED' });
    logger.error({ event: 'test.failed', err: error }, 'failed');
    expect(text()).not.toContain(PASSWORD);
    const err = lines()[0]?.err as Record<string, unknown>;
    expect(err.type).toBe('Error');
    expect(err.message).toBe('cannot reach amqp://guest:***@host/');
    expect(String(err.stack)).toContain('cannot reach amqp://guest:***@host/');
    expect(err.code).toBe('X_FAILED');
    expect((err.cause as Record<string, unknown>).message).toBe('connect failed for redis://:***@h:1');
  });

  it('in an Error logged bare, as pino allows from untyped callers', () => {
    const { logger, text, lines } = capturingLogger();
    (logger.error as unknown as (e: Error) => void)(new Error(`cannot reach ${url}`));
    expect(text()).not.toContain(PASSWORD);
    expect(lines()[0]?.msg).toBe('cannot reach amqp://guest:***@host/');
  });

  it('in Errors nested in other fields, arrays and AggregateErrors', () => {
    const { logger, text } = capturingLogger();
    const aggregate = new AggregateError([new Error(`a ${url}`)], `all failed ${url}`);
    logger.warn({ event: 'test.nested', failures: [{ program: 'w', error: new Error(`b ${url}`) }], agg: aggregate });
    expect(text()).not.toContain(PASSWORD);
    expect(text()).toContain('amqp://guest:***@host/');
  });

  it('in messages, string fields, child bindings and secret-named fields', () => {
    const { logger, text } = capturingLogger();
    const child = logger.child({ broker_url: url });
    child.info(
      { event: 'test.child', config: { broker_url: url, password: PASSWORD, token: 'tok-123' } },
      `using ${url}`,
    );
    expect(text()).not.toContain(PASSWORD);
    expect(text()).not.toContain('tok-123');
  });

  it('survives cycles', () => {
    const { logger, text } = capturingLogger();
    const a: Record<string, unknown> = { url };
    a.self = a;
    const error = new Error('loop') as Error & { again?: unknown };
    error.again = error;
    logger.info({ event: 'test.cycle', a, err: error });
    expect(text()).toContain('[Circular]');
    expect(text()).not.toContain(PASSWORD);
  });
});
