// Settings honoured on Redis brokers only are reported, not silently ignored, when broker_url is
// RabbitMQ: by the client's and worker's settings report (their start-up warning) and by the
// center's layer validation.
import { describe, expect, it } from 'vitest';
import { reportCelerySettings } from '../src/settings-report.js';
import { validateLayer } from '../src/validate.js';

const rabbit = 'amqp://guest:guest@127.0.0.1:5672/vh';

describe('Redis-only settings with a RabbitMQ broker', () => {
  it('reports celeriac_redelivery_limit and celeriac_broker_wait_replicas as not applied on RabbitMQ only', () => {
    const given = { celeriac_redelivery_limit: 3, celeriac_broker_wait_replicas: 1 };
    const onRabbit = reportCelerySettings({ broker_url: rabbit, ...given });
    expect(onRabbit.notices.map((n) => [n.setting, n.kind])).toEqual([
      ['celeriac_broker_wait_replicas', 'unsupported'],
      ['celeriac_redelivery_limit', 'unsupported'],
    ]);
    expect(onRabbit.notices[1]?.reason).toMatch(
      /^with a RabbitMQ broker it is not applied: a classic queue keeps no delivery count/,
    );
    expect(onRabbit.notices[0]?.reason).toMatch(/RabbitMQ's confirm/);
    expect(JSON.stringify(onRabbit)).not.toContain('guest:guest');
    for (const url of ['redis://127.0.0.1:6379/0', 'pyamqp://u@h//']) {
      const report = reportCelerySettings({ broker_url: url, ...given });
      expect(report.notices.length, url).toBe(url.startsWith('redis') ? 0 : 2);
    }
    // Values that ask for nothing on RabbitMQ are not reported; neither is a setting left unset.
    expect(
      reportCelerySettings({ broker_url: rabbit, celeriac_redelivery_limit: 0, celeriac_broker_wait_replicas: 0 })
        .notices,
    ).toEqual([]);
    expect(reportCelerySettings({ broker_url: rabbit }).notices).toEqual([]);
    // celeriac_strict_settings refuses them there, as any unsupported setting.
    expect(reportCelerySettings({ broker_url: rabbit, ...given, celeriac_strict_settings: true }).strict).toBe(true);
  });

  it("warns in the center's validation of a layer that names a RabbitMQ broker", () => {
    const result = validateLayer('defaults', { celery: { broker_url: rabbit, celeriac_redelivery_limit: 3 } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings).toEqual([
      expect.stringMatching(
        /^celery\.celeriac_redelivery_limit is not supported by Celeriac workers and clients: with a RabbitMQ broker/,
      ),
    ]);
    const onRedis = validateLayer('defaults', {
      celery: { broker_url: 'redis://h:6379/0', celeriac_redelivery_limit: 3 },
    });
    expect(onRedis.ok && onRedis.warnings).toEqual([]);
  });
});
