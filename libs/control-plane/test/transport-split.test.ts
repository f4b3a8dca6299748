import {
  ControlClient,
  ControlServer,
  EventDispatcher,
  type EventMessage,
  type EventTransport,
  type PidboxClientTransport,
  type PidboxMessage,
  type PidboxNodeTransport,
  type PidboxOutgoing,
  RevokedSet,
} from '@celeriac/control-plane';
import { describe, expect, it } from 'vitest';
import { capturingLogger, FakeTarget, until } from './helpers.js';

/**
 * The pidbox and event logic over transports that are not Redis (what @celeriac/broker-amqp plugs
 * in): a loopback pair carrying bytes and headers in-process, as a broker would. What the
 * transports see is what RabbitMQ gets: kombu's exchanges, routing keys, delivery modes, headers.
 * (Redis behaviour is held by the other tests of this folder, unchanged.)
 */

const HOST = 'loop@test';
const log = capturingLogger();

/** A fanout exchange of node queues and a direct exchange of reply queues, in memory. */
class Loopback {
  readonly published: PidboxOutgoing[] = [];
  private readonly nodes = new Map<string, (m: PidboxMessage) => void>();
  private readonly replyQueues = new Map<string, PidboxMessage[]>();
  private readonly bound = new Map<string, string>();

  deliver(message: PidboxOutgoing): void {
    this.published.push(message);
    const copy = {
      headers: JSON.parse(JSON.stringify(message.headers)),
      contentType: contentTypeOf(message),
      body: message.body,
    };
    if (message.exchange === 'celery.pidbox') {
      for (const onRequest of this.nodes.values()) onRequest(copy);
      return;
    }
    const queue = this.bound.get(`${message.exchange}/${message.routingKey}`);
    if (queue !== undefined) this.replyQueues.get(queue)?.push(copy);
  }

  node(): PidboxNodeTransport & { queue?: string; exchange?: string } {
    const loop = this;
    const transport: PidboxNodeTransport & { queue?: string; exchange?: string } = {
      async listen(queue, exchange, onRequest) {
        transport.queue = queue;
        transport.exchange = exchange;
        loop.nodes.set(queue, onRequest);
      },
      async reply(message) {
        loop.deliver(message);
      },
      async stop() {
        if (transport.queue !== undefined) loop.nodes.delete(transport.queue);
      },
    };
    return transport;
  }

  client(): PidboxClientTransport {
    const loop = this;
    let queue = '';
    let aborted = false;
    return {
      async openReplies(q, exchange, oid) {
        queue = q;
        loop.replyQueues.set(q, loop.replyQueues.get(q) ?? []);
        loop.bound.set(`${exchange}/${oid}`, q);
      },
      async publish(message) {
        loop.deliver(message);
      },
      async nextReply(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (!aborted && Date.now() < deadline) {
          const next = loop.replyQueues.get(queue)?.shift();
          if (next !== undefined) return next;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return null;
      },
      async closeReplies(_q, exchange, oid) {
        loop.bound.delete(`${exchange}/${oid}`);
      },
      abort() {
        aborted = true;
      },
      async close() {},
    };
  }
}

function contentTypeOf(message: PidboxOutgoing): string {
  return message.serializer === 'json' ? 'application/json' : 'application/x-msgpack';
}

describe('ControlServer and ControlClient over an injected transport', () => {
  it('answer ping/inspect and revoke as on Redis, with kombu exchanges, keys, delivery modes and headers', async () => {
    const loop = new Loopback();
    const node = loop.node();
    const revoked = new RevokedSet({ redis: null, logger: log.logger });
    await revoked.start();
    const server = new ControlServer({
      url: 'amqp://guest:secret@rabbit:5672/vh',
      target: new FakeTarget(HOST),
      revoked,
      logger: log.logger,
      transport: node,
    });
    await server.start();
    expect(node).toMatchObject({ queue: `${HOST}.celery.pidbox`, exchange: 'celery.pidbox' });
    const client = new ControlClient({ url: 'amqp://rabbit/vh', logger: log.logger, transport: loop.client() });

    expect(await client.ping({ destination: [HOST] })).toEqual({ [HOST]: { ok: 'pong' } });
    const request = loop.published[0]!;
    expect(request).toMatchObject({ exchange: 'celery.pidbox', routingKey: '', deliveryMode: 2, serializer: 'json' });
    expect(Object.keys(request.headers)).toEqual(['clock', 'expires']);
    const body = JSON.parse(request.body.toString('utf8'));
    expect(body).toMatchObject({
      method: 'ping',
      destination: [HOST],
      reply_to: { exchange: 'reply.celery.pidbox', routing_key: client.oid },
    });
    const reply = loop.published[1]!;
    expect(reply).toMatchObject({ exchange: 'reply.celery.pidbox', routingKey: client.oid, deliveryMode: 1 });
    expect(reply.headers.ticket).toBe(body.ticket);

    // stats reports the AMQP broker as kombu's Connection.info() does, without the password.
    const stats = (await client.inspect('stats', {}, { destination: [HOST] }))[HOST] as {
      broker: Record<string, unknown>;
    };
    expect(stats.broker).toMatchObject({
      transport: 'amqp',
      hostname: 'rabbit',
      port: 5672,
      virtual_host: 'vh',
      userid: 'guest',
    });
    expect(JSON.stringify(stats)).not.toContain('secret');

    // No shared Redis: the revoke lives in memory, and the log says so once.
    expect(await client.revoke('t-1', { destination: [HOST], reply: true })).toEqual([
      { [HOST]: { ok: 'tasks t-1 flagged as revoked' } },
    ]);
    expect(revoked.has('t-1')).toBe(true);
    expect(log.lines().filter((l) => l.event === 'control.revoked_memory_only')).toHaveLength(1);

    // A cast binds no reply queue and waits for nothing.
    const before = loop.published.length;
    expect(await client.broadcast('heartbeat', {}, { reply: false })).toEqual([]);
    expect(JSON.parse(loop.published[before]!.body.toString('utf8'))).not.toHaveProperty('reply_to');

    await client.close();
    await server.close();
    expect(server.state).toBe('stopped');
  });
});

describe('EventDispatcher over an injected transport', () => {
  it('hands worker events and task.multi batches to it with the celeryev exchange and the hostname header', async () => {
    const sent: Array<{ exchange: string; messages: EventMessage[]; headers: Readonly<Record<string, unknown>> }> = [];
    let closed = false;
    const transport: EventTransport = {
      async publish(exchange, messages, headers) {
        sent.push({ exchange, messages: [...messages], headers });
      },
      async close() {
        closed = true;
      },
    };
    const events = new EventDispatcher({
      url: 'amqp://rabbit//',
      hostname: HOST,
      logger: log.logger,
      transport,
      taskEvents: true,
    });
    await events.send('worker-online', { freq: 2 });
    events.taskReceived('id-1', 'tasks.add', '(1, 2)', '{}', 'id-1', null, 0, null, null);
    events.taskStarted('id-1');
    await until(() => sent.length === 2, 2_000);
    await events.close();
    expect(closed).toBe(true);
    expect(sent.map((s) => [s.exchange, s.messages.map((m) => m.routingKey)])).toEqual([
      ['celeryev', ['worker.online']],
      ['celeryev', ['task.multi']],
    ]);
    expect(sent[0]!.headers).toEqual({ hostname: HOST });
    // Plain JSON for a transport without bodyInString (RabbitMQ's carries the bytes).
    expect(sent.flatMap((s) => s.messages.map((m) => m.inString === true))).toEqual([false, false]);
    const decode = (m: EventMessage) => JSON.parse(m.body);
    expect(decode(sent[0]!.messages[0]!)).toMatchObject({ type: 'worker-online', hostname: HOST });
    expect(decode(sent[1]!.messages[0]!).map((e: { type: string }) => e.type)).toEqual([
      'task-received',
      'task-started',
    ]);
  });
});
