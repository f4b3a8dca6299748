// The client side of "no setting is silent": warnings through the app's logger (once per name, on
// the first send), invalid values reported, strict mode refusing at new Celeriac / conf.update.
import { Celeriac, ConfigError } from '@celeriac/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, LogCapture } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

describe('client: settings that are not acted on', () => {
  it('warns through its logger once per unsupported or misspelt setting, on the first send, and again only for new ones', async () => {
    const app = h.app({
      task_store_eager_result: true,
      task_serialiser: 'json',
      worker_pool: 'solo',
      BROKER_POOL_LIMIT: 3,
    });
    const log = new LogCapture();
    app.logger = log.logger;
    await app.sendTask('t.a');
    await app.sendTask('t.b');
    const warned = () => log.events('client.setting_not_honoured').map((l) => [l.setting, l.level]);
    expect(warned()).toEqual([
      ['task_serialiser', 40],
      ['task_store_eager_result', 40],
    ]);
    expect(log.events('client.setting_not_honoured')[0]?.reason).toContain('did you mean task_serializer?');
    app.conf.update({ worker_direct: true });
    await app.sendTask('t.c');
    expect(warned().map(([name]) => name)).toEqual(['task_serialiser', 'task_store_eager_result', 'worker_direct']);
  });

  it('reports a value the schema refuses (client.setting_invalid) with its path', async () => {
    const app = h.app({ task_annotations: { 't.a': { rate_limit: 'fast' } } });
    const log = new LogCapture();
    app.logger = log.logger;
    expect(app.conf.report().issues).toEqual([
      { path: 'task_annotations["t.a"].rate_limit', message: expect.stringContaining('"fast" is not a rate limit') },
    ]);
    await app.sendTask('t.b');
    expect(log.events('client.setting_invalid')).toMatchObject([{ setting: 'task_annotations["t.a"].rate_limit' }]);
  });

  it('celeriac_strict_settings: new Celeriac and conf.update refuse, naming each setting, and change nothing', () => {
    expect(() => new Celeriac('s', { celeriac_strict_settings: true, task_store_eager_result: true })).toThrow(
      ConfigError,
    );
    const app = new Celeriac('s', { celeriac_strict_settings: true, broker_url: h.redis.url(0) });
    expect(() => app.conf.update({ worker_max_task_per_child: 3, task_compression: 'bzip2' })).toThrow(
      /task_compression: bzip2 is not supported[\s\S]*worker_max_task_per_child is not a Celery setting; nothing reads it \(did you mean worker_max_tasks_per_child\?\)/,
    );
    expect(app.conf.get('worker_max_task_per_child')).toBeUndefined();
    app.conf.update({ worker_max_tasks_per_child: 3, task_compression: 'zlib' });
    expect(app.conf.get('worker_max_tasks_per_child')).toBe(3);
  });
});
