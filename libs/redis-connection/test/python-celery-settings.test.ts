// What the agent writes into a Python program's celeryconfig for failover lists and TLS to the
// sentinels, read back by Debian's kombu 5.2 / Celery 5.2 as they would read it.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pythonCelerySettings } from '../src/url.js';

/** kombu's reading of the broker settings: its alternates, strategy and sentinel_kwargs. */
function kombuReads(settings: Record<string, unknown>): Record<string, unknown> {
  const script = `
import json, sys
from kombu import Connection
s = json.loads(sys.argv[1])
c = Connection(s['broker_url'], failover_strategy=s.get('broker_failover_strategy'),
               transport_options=s.get('broker_transport_options') or {})
print(json.dumps({'alt': c.alt, 'strategy': c._failover_strategy,
                  'sentinel_kwargs': c.transport_options.get('sentinel_kwargs')}))
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, JSON.stringify(settings)], { encoding: 'utf8' }));
}

describe('pythonCelerySettings: failover lists and TLS to the sentinels', () => {
  it('keeps a broker failover list with its strategy; gives the result backend its first URL', () => {
    const out = pythonCelerySettings({
      broker_url: 'redis://:pw@a:6379/0?failover_strategy=shuffle;redis://:pw@b:6380/0',
      result_backend: 'redis://a/1;redis://b/1',
    });
    expect(out).toMatchObject({
      broker_url: 'redis://:pw@a:6379/0;redis://:pw@b:6380/0',
      broker_failover_strategy: 'shuffle',
      // Celery 5.2's Redis result backend reads one URL.
      result_backend: 'redis://a:6379/1',
    });
    expect(kombuReads(out)).toMatchObject({
      alt: ['redis://:pw@a:6379/0', 'redis://:pw@b:6380/0'],
      strategy: 'shuffle',
    });
  }, 30_000);

  it('writes TLS to the sentinels into sentinel_kwargs, as redis-py takes it', () => {
    const out = pythonCelerySettings({
      broker_url: 'sentinel://s1:26379;sentinel://s2:26379',
      broker_transport_options: {
        master_name: 'm',
        sentinel_kwargs: { ssl: true, ssl_ca_certs: '/ca.pem', password: 'spw' },
      },
    });
    const kwargs = { ssl: true, ssl_cert_reqs: 'required', ssl_ca_certs: '/ca.pem', ssl_check_hostname: true };
    expect(out.broker_transport_options).toEqual({
      master_name: 'm',
      sentinel_kwargs: { password: 'spw', ...kwargs },
    });
    expect(kombuReads(out).sentinel_kwargs).toEqual({ password: 'spw', ...kwargs });
  }, 30_000);
});

describe('pythonCelerySettings: broker_use_ssl for pyamqp', () => {
  it("writes cert_reqs as Python's number, which SSLContext.verify_mode takes (a name raises TypeError)", () => {
    const given = { ca_certs: '/ca.pem', cert_reqs: 'CERT_REQUIRED' };
    const out = pythonCelerySettings({ broker_url: 'amqps://u:p@h:5671//', broker_use_ssl: given });
    expect(out.broker_use_ssl).toEqual({ ca_certs: '/ca.pem', cert_reqs: 2 });
    expect(given.cert_reqs).toBe('CERT_REQUIRED');
    const check = (value: unknown) =>
      execFileSync(
        '/usr/bin/python3',
        ['-c', `import ssl; ssl.create_default_context().verify_mode = ${JSON.stringify(value)}; print('ok')`],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
    expect(check((out.broker_use_ssl as { cert_reqs: unknown }).cert_reqs).trim()).toBe('ok');
    expect(() => check('CERT_REQUIRED')).toThrow();
    for (const [name, number] of [
      ['CERT_NONE', 0],
      ['optional', 1],
      ['2', 2],
    ] as const) {
      const ssl = pythonCelerySettings({
        broker_url: 'amqp://h//',
        broker_use_ssl: { cert_reqs: name },
      }).broker_use_ssl;
      expect(ssl).toEqual({ cert_reqs: number });
    }
    expect(pythonCelerySettings({ broker_url: 'amqp://h//', broker_use_ssl: true }).broker_use_ssl).toBe(true);
  });
});
