import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { taskQueuesFromSettings } from '@celeriac/broker';
import { describe, expect, it } from 'vitest';
import { compileRoutes, resolveDestination, type TaskRoutes } from '../src/router.js';

const run = promisify(execFile);

// Celery 5.2's own decision: app.send_task with a producer that records what kombu would be asked
// to publish to (exchange, routing_key), or the exception Celery raises.
const CELERY_PROBE = `
import contextlib, json, sys
from celery import Celery
cfg, cases = json.loads(sys.argv[1]), json.loads(sys.argv[2])
app = Celery('probe', broker='redis://127.0.0.1:1/0', set_as_current=False)
app.conf.update(cfg)
class Conn:
    @contextlib.contextmanager
    def _reraise_as_library_errors(self):
        yield
class Producer:
    connection = Conn()
    def publish(self, body, **kw):
        self.got = {'exchange': kw.get('exchange') or '', 'routing_key': kw.get('routing_key') or ''}
out = []
for name, opts in cases:
    p = Producer()
    try:
        app.send_task(name, producer=p, **opts)
        out.append(p.got)
    except Exception as e:
        out.append({'error': type(e).__name__})
print(json.dumps(out))
`;

type Case = [string, Record<string, unknown>];

async function celery(config: Record<string, unknown>, cases: Case[]): Promise<Record<string, string>[]> {
  const { stdout } = await run(
    '/usr/bin/python3',
    ['-c', CELERY_PROBE, JSON.stringify(config), JSON.stringify(cases)],
    {
      timeout: 30_000,
    },
  );
  return JSON.parse(stdout) as Record<string, string>[];
}

function ours(config: Record<string, unknown>, cases: Case[]): Record<string, string>[] {
  const table = taskQueuesFromSettings(config);
  const rk = typeof config.task_default_routing_key === 'string' ? config.task_default_routing_key : table.defaultQueue;
  const routes = compileRoutes(config.task_routes as TaskRoutes);
  return cases.map(([name, call]): Record<string, string> => {
    try {
      const r = resolveDestination(name, call, {}, routes, table, rk);
      return r.exchange
        ? { exchange: r.exchange, routing_key: r.routing_key ?? '' }
        : { exchange: '', routing_key: r.queue };
    } catch (error) {
      return { error: (error as Error).name === 'ApplyOptionsError' ? 'QueueNotFound' : String(error) };
    }
  });
}

const QUEUES = {
  video: { exchange: 'media', routing_key: 'media.video' },
  all_media: { exchange: 'media_t', exchange_type: 'topic', routing_key: 'media.#' },
  plain: {},
};

describe('routes by exchange resolve as Celery 5.2 sends them', () => {
  it('task_queues with direct and topic exchanges, routes and call options', async () => {
    const config = {
      task_queues: QUEUES,
      task_routes: {
        'r.exchange': { exchange: 'media', routing_key: 'media.video' },
        'r.topic_queue': { queue: 'all_media' },
        'r.string': 'video',
        'r.fanout': { exchange: 'fx', routing_key: '', exchange_type: 'fanout' },
        'r.queue_and_exchange': { queue: 'video', exchange: 'media', routing_key: 'media.video' },
        'r.priority_only': { priority: 5 },
      },
    };
    const cases: Case[] = [
      ['r.exchange', {}],
      ['r.topic_queue', {}],
      ['r.string', {}],
      ['r.fanout', {}],
      ['r.queue_and_exchange', {}],
      ['r.priority_only', {}],
      ['other', {}],
      ['other', { queue: 'video' }],
      ['other', { queue: 'plain' }],
      ['other', { queue: 'video', routing_key: 'zz' }],
      ['other', { queue: 'all_media', routing_key: 'media.z' }],
      ['other', { exchange: 'media' }],
      ['other', { exchange: 'media', routing_key: 'media.video' }],
      ['other', { queue: 'created_on_the_fly' }],
      ['r.exchange', { routing_key: 'media.other' }],
    ];
    const theirs = await celery(config, cases);
    expect(ours(config, cases)).toEqual(theirs);
    // Not vacuous: some go through an exchange, some to a list.
    expect(theirs.filter((t) => t.exchange !== '').length).toBeGreaterThanOrEqual(5);
    expect(theirs.filter((t) => t.exchange === '').length).toBeGreaterThanOrEqual(5);
  });

  it('task_default_exchange, task_default_exchange_type and task_default_routing_key', async () => {
    const config = { task_default_exchange: 'ex', task_default_exchange_type: 'topic', task_default_routing_key: 'rk' };
    const cases: Case[] = [
      ['x', {}],
      ['x', { queue: 'celery' }],
      ['x', { routing_key: 'rk.more' }],
      ['x', { queue: 'fresh' }],
    ];
    expect(ours(config, cases)).toEqual(await celery(config, cases));
    expect(ours(config, [['x', {}]])).toEqual([{ exchange: 'ex', routing_key: 'rk' }]);
  });

  it('task_create_missing_queues false: a queue not in task_queues is refused, as Celery raises QueueNotFound', async () => {
    // The default queue is listed: without it Celery 5.2 cannot send anything (KeyError 'celery' at setup).
    const config = {
      task_queues: { ...QUEUES, celery: {} },
      task_create_missing_queues: false,
      task_routes: { 'r.gone': 'gone' },
    };
    const cases: Case[] = [
      ['x', { queue: 'nope' }],
      ['r.gone', {}],
      ['x', { queue: 'video' }],
    ];
    const theirs = await celery(config, cases);
    expect(theirs[0]).toEqual({ error: 'QueueNotFound' });
    expect(ours(config, cases)).toEqual(theirs);
  });
});
