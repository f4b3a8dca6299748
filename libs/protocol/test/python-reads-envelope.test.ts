import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { encodeTaskEnvelope, type OutgoingTask } from '../src/index.js';

/**
 * Hands our raw entries to kombu's Redis-style virtual Message and Celery's worker Request, the
 * code a Python worker runs on every delivery, and returns what they made of them.
 */
function readWithCelery(raws: string[]): Record<string, unknown>[] {
  const script = `
import json, sys
from celery import Celery
from celery.worker.request import Request
from kombu import Connection
from kombu.transport.virtual import Message
app = Celery('wireapp', set_as_current=False)
@app.task(name='wireapp.add')
def add(*a, **k):
    return None
channel = Connection('memory://').default_channel
out = []
for raw in json.load(sys.stdin):
    msg = Message(json.loads(raw), channel=channel)
    msg.accept = {'application/json', 'application/x-msgpack'}
    args, kwargs, embed = msg.decode()
    req = Request(msg, app=app, task=app.tasks['wireapp.add'])
    out.append({
        'args': args, 'kwargs': kwargs, 'embed': embed,
        'id': req.id, 'task': req.task_name, 'root_id': req.root_id, 'parent_id': req.parent_id,
        'group': req.group, 'eta': req.eta and req.eta.isoformat(), 'expires': req.expires and req.expires.isoformat(),
        'time_limits': list(req.time_limits), 'delivery_tag': msg.delivery_tag, 'delivery_info': msg.delivery_info,
        'priority': msg.properties.get('priority'), 'expiration': msg.properties.get('expiration'),
    })
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script], {
      input: JSON.stringify(raws),
      encoding: 'utf8',
      timeout: 60_000,
    }),
  );
}

describe('Celery 5.2.6 reads our envelopes', () => {
  it('decodes json and msgpack bodies, dates, time limits and routing as sent', () => {
    const link = { task: 'wireapp.mul', args: [5], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    const base: OutgoingTask = {
      id: 'ts-1',
      task: 'wireapp.add',
      args: [2, 'wörld', { nested: [1.5, null, true] }],
      kwargs: { greeting: 'hej ✓' },
      queue: 'other',
      eta: new Date('2026-11-24T21:32:01.881Z'),
      expires: new Date('2099-01-01T00:00:00.250Z'),
      timelimit: [30, 20],
      rootId: 'root-1',
      parentId: 'parent-1',
      groupId: 'group-1',
      priority: 5,
      embed: { callbacks: [link] },
    };
    const tasks = [base, { ...base, id: 'ts-2', serializer: 'msgpack' as const }];
    const raws = tasks.map(encodeTaskEnvelope);
    const seen = readWithCelery(raws);
    seen.forEach((s, i) => {
      const raw = JSON.parse(raws[i]!);
      expect(s).toMatchObject({
        args: base.args,
        kwargs: base.kwargs,
        embed: { callbacks: [link], errbacks: null, chain: null, chord: null },
        id: tasks[i]!.id,
        task: 'wireapp.add',
        root_id: 'root-1',
        parent_id: 'parent-1',
        group: 'group-1',
        eta: '2026-11-24T21:32:01.881000+00:00',
        expires: '2099-01-01T00:00:00.250000+00:00',
        time_limits: [30, 20],
        delivery_tag: raw.properties.delivery_tag,
        delivery_info: { exchange: '', routing_key: 'other' },
        priority: 5,
      });
      expect(Number(s.expiration)).toBeGreaterThan(0);
    });
  });
});
