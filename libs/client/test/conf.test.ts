import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Celeriac } from '../src/celeriac.js';
import { ConfigError } from '../src/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('app.conf', () => {
  it("starts from Celery's defaults", () => {
    const app = new Celeriac('tasks');
    const s = app.conf.settings;
    expect(s.broker_url).toBe('redis://127.0.0.1:6379/0');
    expect(s.task_default_queue).toBe('celery');
    expect(s.task_serializer).toBe('json');
    expect(s.result_serializer).toBe('json');
    expect(s.accept_content).toEqual(['json']);
    expect(s.result_expires).toBe(86400);
    expect(s.task_acks_late).toBe(false);
    expect(s.worker_prefetch_multiplier).toBe(4);
  });

  it('normalises the old upper-case names of a celeryconfig.py', () => {
    const app = new Celeriac('tasks', {
      BROKER_URL: 'redis://10.0.0.5:6379/0',
      CELERY_RESULT_BACKEND: 'redis://10.0.0.5:6379/1',
      CELERY_ROUTES: { 'tasks.add': { queue: 'add_queue' } },
      CELERY_ANNOTATIONS: { 'tasks.add': { rate_limit: '10/m' } },
      CELERY_TASK_SERIALIZER: 'msgpack',
      CELERY_ACCEPT_CONTENT: ['json', 'msgpack'],
      CELERY_DEFAULT_QUEUE: 'default',
      CELERYD_PREFETCH_MULTIPLIER: 1,
      CELERY_ACKS_LATE: true,
      CELERY_TASK_RESULT_EXPIRES: 600,
    });
    const s = app.conf.settings;
    expect(s.broker_url).toBe('redis://10.0.0.5:6379/0');
    expect(s.result_backend).toBe('redis://10.0.0.5:6379/1');
    expect(s.task_routes).toEqual({ 'tasks.add': { queue: 'add_queue' } });
    expect(s.task_annotations).toEqual({ 'tasks.add': { rate_limit: '10/m' } });
    expect(s.task_serializer).toBe('msgpack');
    expect(s.accept_content).toEqual(['json', 'msgpack']);
    expect(s.task_default_queue).toBe('default');
    expect(s.worker_prefetch_multiplier).toBe(1);
    expect(s.task_acks_late).toBe(true);
    expect(s.result_expires).toBe(600);
    expect(s.BROKER_URL).toBeUndefined();
    expect(app.conf.get('BROKER_URL')).toBe('redis://10.0.0.5:6379/0');
    expect(app.routeFor('tasks.add').queue).toBe('add_queue');
    expect(app.routeFor('tasks.mul').queue).toBe('default');
  });

  it('update() changes settings key by key and re-reads routes and annotations', () => {
    const app = new Celeriac('tasks', { task_routes: { 'tasks.add': 'a' } });
    app.task('tasks.add', (a: number, b: number) => a + b, { acks_late: true, rate_limit: '1/s' });
    expect(app.routeFor('tasks.add').queue).toBe('a');
    expect(app.taskOptions('tasks.add')).toEqual({ acks_late: true, rate_limit: '1/s' });
    app.conf.update({ CELERY_ROUTES: { 'tasks.*': 'b' }, task_annotations: { 'tasks.add': { rate_limit: '10/m' } } });
    expect(app.routeFor('tasks.add').queue).toBe('b');
    expect(app.taskOptions('tasks.add')).toEqual({ acks_late: true, rate_limit: '10/m' });
    expect(app.taskOptions('tasks.unknown')).toEqual({});
    expect(app.conf.settings.task_serializer).toBe('json');
  });

  it('routeFor: per-call queue beats the task queue option, which beats task_routes', () => {
    const app = new Celeriac('tasks', { task_routes: { 'tasks.*': { queue: 'routed', priority: 3 } } });
    app.task('tasks.own', () => 1, { queue: 'own' });
    app.task('tasks.plain', () => 1);
    expect(app.routeFor('tasks.plain')).toEqual({ queue: 'routed', routing_key: 'routed', priority: 3 });
    expect(app.routeFor('tasks.own').queue).toBe('own');
    expect(app.routeFor('tasks.own', { queue: 'call' }).queue).toBe('call');
    expect(app.routeFor('other.x')).toEqual({ queue: 'celery', routing_key: 'celery' });
  });

  it('loads a JSON file', async () => {
    const file = path.join(dir, 'celery.json');
    writeFileSync(file, JSON.stringify({ BROKER_URL: 'redis://127.0.0.1:7000/2', task_default_queue: 'fromjson' }));
    const app = new Celeriac('tasks');
    await app.conf.loadFile(file);
    expect(app.conf.settings.broker_url).toBe('redis://127.0.0.1:7000/2');
    expect(app.conf.settings.task_default_queue).toBe('fromjson');
  });

  it("loads a JS module's default export", async () => {
    const file = path.join(dir, 'celeryconfig.mjs');
    writeFileSync(file, "export default { CELERY_DEFAULT_QUEUE: 'fromjs', task_routes: { 'a.*': 'qa' } };\n");
    const app = new Celeriac('tasks');
    await app.conf.loadFile(file);
    expect(app.conf.settings.task_default_queue).toBe('fromjs');
    expect(app.routeFor('a.b').queue).toBe('qa');
  });

  it('reports unreadable or malformed files with ConfigError and the path', async () => {
    const app = new Celeriac('tasks');
    const missing = path.join(dir, 'missing.json');
    await expect(app.conf.loadFile(missing)).rejects.toMatchObject({ code: 'CLIENT_CONFIG_INVALID' });
    await expect(app.conf.loadFile(missing)).rejects.toThrow(missing);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    await expect(app.conf.loadFile(bad)).rejects.toThrow(/not valid JSON/);
    const arr = path.join(dir, 'arr.json');
    writeFileSync(arr, '[1, 2]');
    await expect(app.conf.loadFile(arr)).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses a broker URL of an unsupported transport without printing its password', () => {
    // amqp:// selects the RabbitMQ transport (libs/broker-amqp); librabbitmq:// is not supported.
    const app = new Celeriac('tasks', { broker_url: 'librabbitmq://user:s3cret@host:5672//' });
    let error: unknown;
    try {
      app.broker();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('broker_url');
    expect((error as Error).message).not.toContain('s3cret');
  });
});
