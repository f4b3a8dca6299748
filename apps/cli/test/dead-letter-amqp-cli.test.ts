import { envelopeToAmqp } from '@celeriac/broker-amqp';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { Worker } from '@celeriac/worker-runtime';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../test/support/celery-poll.js';
import { RabbitNode } from '../../../test/support/rabbitmq-node.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { freePort } from '../../../test/support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { deadLetterCli } from './support/dead-letter-cli.js';

// `celeriac dead-letter` on RabbitMQ through the built CLI (`npx tsc -b tsconfig.build.json`
// first), on records a real in-process worker dead-lettered to the `celeriac.dead-letter` queue of
// a vhost of this file: list and show keep every record in order, requeue republishes the original
// message (a worker then runs it) and removes only that record, unroutable and truncated records
// stay, purge; and over TLS with a private CA given as --broker-use-ssl.
const DL_QUEUE = 'celeriac.dead-letter';
const QUEUE = 'dlq';
const UNKNOWN_ID = 'bbbbbbbb-2222-4222-8222-222222222222';
const WEIRD_ID = 'cccccccc-3333-4333-8333-333333333333';

let vhost: RabbitVhost;
let url: string;
let admin: ChannelModel;

const cli = (args: string[], env: Record<string, string> = { CELERIAC_BROKER_URL: url }) =>
  deadLetterCli(args, env, 'guest:guest');

const counts = async (queue: string) => (await vhost.queueCounts(queue)) ?? { ready: -1, unacked: -1 };

/** Every message of `queue`, oldest first, taken off it (acked). */
async function takeAll(queue: string): Promise<amqp.GetMessage[]> {
  const channel = await admin.createChannel();
  const out: amqp.GetMessage[] = [];
  for (;;) {
    const m = await channel.get(queue, { noAck: true });
    if (m === false) break;
    out.push(m);
  }
  await channel.close();
  return out;
}

/** A protocol-2 task message for `queue` as kombu sends it, with content type `contentType`. */
function task(id: string, name: string, contentType?: string): amqp.Options.Publish & { content: Buffer } {
  const env = JSON.parse(encodeTaskEnvelope({ id, task: name, args: [2, 3], kwargs: {}, queue: QUEUE })) as Record<
    string,
    unknown
  >;
  if (contentType) env['content-type'] = contentType;
  const { content, options } = envelopeToAmqp(JSON.stringify(env));
  return { ...options, content };
}

beforeAll(async () => {
  vhost = await RabbitVhost.create();
  url = vhost.url();
  admin = await amqp.connect(url);
  // A real worker on the vhost dead-letters four messages: an unknown task, an unknown content
  // type, a body that is not JSON, and an oversize one (stored truncated).
  const logger = createLogger({ level: 'silent', pretty: false });
  const app = new Celeriac(
    'dl-amqp',
    { broker_url: url, accept_content: ['json'], celeriac_dead_letter_max_raw_bytes: 1024 },
    { logger },
  );
  app.task('t.add', (a: number, b: number) => a + b);
  const worker = new Worker({ app, queues: [QUEUE], concurrency: 1, hostname: 'dl-amqp@host', logger });
  await worker.start();
  const channel = await admin.createConfirmChannel();
  let stored = 0;
  const send = async (m: amqp.Options.Publish & { content: Buffer }) => {
    const { content, ...options } = m;
    channel.sendToQueue(QUEUE, content, options);
    await channel.waitForConfirms();
    // One at a time, so the records are stored in this order.
    stored++;
    await pollUntil(async () => ((await counts(DL_QUEUE)).ready >= stored ? true : undefined), {
      what: 'the dead-letter records',
      timeoutMs: 20_000,
      intervalMs: 25,
    });
  };
  await send(task(UNKNOWN_ID, 't.unknown'));
  await send(task(WEIRD_ID, 't.add', 'application/x-weird'));
  await send({ content: Buffer.from('this is {not json'), contentType: 'application/json', contentEncoding: 'utf-8' });
  await send({
    content: Buffer.from(`{broken ${'x'.repeat(5000)}`),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
  });
  await channel.close();
  await worker.close();
  await app.close();
}, 90_000);

afterAll(async () => {
  await admin?.close().catch(() => undefined);
  await vhost?.delete();
});

describe('celeriac dead-letter on RabbitMQ', () => {
  it('list: the same table as on Redis, newest first; reading keeps every record, in order', async () => {
    const r = await cli(['list']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^INDEX\s+TIME\s+REASON\s+QUEUE\s+TASK\s+SIZE$/);
    expect(lines[1]).toMatch(/^0\s+\d{4}-\d\d-\d\dT.*bad_body: .*dlq\s+- -\s+.* \(truncated\)$/);
    expect(lines[2]).toMatch(/^1\s.*bad_body: .*dlq\s+- -\s+\d+ B$/);
    expect(lines[3]).toMatch(new RegExp(`^2\\s.*content_type.*dlq\\s+t\\.add ${WEIRD_ID}\\s+\\d+ B$`));
    expect(lines[4]).toMatch(new RegExp(`^3\\s.*not_registered.*dlq\\s+t\\.unknown ${UNKNOWN_ID}\\s+\\d+ B$`));
    expect(r.stdout).toContain('4 shown (0..3) of 4');
    // Read again: the same records in the same order, all back in the queue and none held.
    expect((await cli(['list'])).stdout.replace(/\d{4}-\d\d-\d\dT\S+/g, 'T')).toBe(
      r.stdout.replace(/\d{4}-\d\d-\d\dT\S+/g, 'T'),
    );
    expect(await counts(DL_QUEUE)).toEqual({ ready: 4, unacked: 0 });
    const page = await cli(['list', '--offset', '1', '--limit', '2']);
    expect(
      page.stdout
        .split('\n')
        .slice(1, 3)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['1', '2']);
    expect(page.stdout).toContain('2 shown (1..2) of 4');
    console.log(`dead-letter list on RabbitMQ:\n${r.stdout}`);
  });

  it('show <n>: the record as JSON; a missing index, bad usage and Redis-only options', async () => {
    const r = await cli(['show', '3']);
    expect(r.exitCode).toBe(0);
    const shown = JSON.parse(r.stdout);
    expect(shown).toMatchObject({
      index: 3,
      record: { queue: QUEUE, task: 't.unknown', task_id: UNKNOWN_ID, raw_truncated: false },
    });
    expect(shown.record.reason).toMatch(/^not_registered/);
    expect(JSON.parse(shown.record.raw).headers).toMatchObject({ id: UNKNOWN_ID, task: 't.unknown' });
    const big = JSON.parse((await cli(['show', '0'])).stdout);
    expect(big.record).toMatchObject({ raw_truncated: true });
    expect(big.record.raw).toHaveLength(1024);

    const missing = await cli(['show', '4']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('[BROKER_DEAD_LETTER_NOT_FOUND]');
    for (const args of [
      ['show', 'abc'],
      ['list', '--key-prefix', 'p:'],
      ['list', '--broker-use-ssl', '{nope'],
    ]) {
      const bad = await cli(args);
      expect(bad.exitCode, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain('Usage: celeriac dead-letter');
    }
    const redisWithSsl = await cli(['list', '-b', 'redis://127.0.0.1:1/0', '--broker-use-ssl', 'true'], {});
    expect(redisWithSsl.exitCode).toBe(2);
    expect(redisWithSsl.stderr).toContain('--broker-use-ssl is for a RabbitMQ broker');
    expect(await counts(DL_QUEUE)).toEqual({ ready: 4, unacked: 0 });
  });

  it('requeue <n>: the original message goes back to its queue (a worker runs it), the record only then leaves', async () => {
    const one = await cli(['requeue', '3']);
    expect(one).toMatchObject({ exitCode: 0, stdout: 'requeued 1' });
    expect(await counts(DL_QUEUE)).toEqual({ ready: 3, unacked: 0 });
    expect(await counts(QUEUE)).toEqual({ ready: 1, unacked: 0 });
    // A worker that knows the task now runs the replayed message.
    const logger = createLogger({ level: 'silent', pretty: false });
    const app = new Celeriac('dl-amqp-replay', { broker_url: url }, { logger });
    const ran: unknown[][] = [];
    app.task('t.unknown', (...args: unknown[]) => {
      ran.push(args);
      return null;
    });
    const worker = new Worker({ app, queues: [QUEUE], concurrency: 1, hostname: 'dl-replay@host', logger });
    await worker.start();
    try {
      await pollUntil(async () => (ran.length > 0 ? true : undefined), {
        what: 'the requeued task run',
        timeoutMs: 20_000,
        intervalMs: 25,
      });
      expect(ran).toEqual([[2, 3]]);
    } finally {
      await worker.close();
      await app.close();
    }
    // The others are as they were, in order.
    const rest = await cli(['list']);
    expect(rest.stdout).toContain('3 shown (0..2) of 3');
    expect(rest.stdout.split('\n')[3]).toMatch(new RegExp(`^2\\s.*t\\.add ${WEIRD_ID}`));
  }, 40_000);

  it('requeue: truncated records stay; a missing queue keeps its records (BROKER_UNROUTABLE); --all; purge --yes', async () => {
    const truncated = await cli(['requeue', '0']);
    expect(truncated.exitCode).toBe(1);
    expect(truncated.stderr).toContain('[BROKER_DEAD_LETTER_NOT_REQUEUEABLE]');

    const channel = await admin.createChannel();
    await channel.deleteQueue(QUEUE);
    const unroutable = await cli(['requeue', '--all']);
    expect(unroutable.exitCode).toBe(1);
    expect(unroutable.stderr).toContain('[BROKER_UNROUTABLE]');
    expect(unroutable.stderr).toContain(`queue "${QUEUE}" does not exist`);
    expect(await counts(DL_QUEUE)).toEqual({ ready: 3, unacked: 0 });

    await channel.assertQueue(QUEUE, { durable: true });
    await channel.close();
    const all = await cli(['requeue', '--all']);
    expect(all).toMatchObject({ exitCode: 0, stdout: 'requeued 2, kept 1 (truncated or unreadable)' });
    // Oldest first, each the original message: the unknown content type, then the non-JSON body.
    const back = await takeAll(QUEUE);
    expect(back.map((m) => [m.properties.contentType, m.properties.headers?.id ?? null])).toEqual([
      ['application/x-weird', WEIRD_ID],
      ['application/json', null],
    ]);
    expect(back[1]?.content.toString()).toBe('this is {not json');

    const unconfirmed = await cli(['purge']);
    expect(unconfirmed.exitCode).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    expect(await counts(DL_QUEUE)).toEqual({ ready: 1, unacked: 0 });
    expect(await cli(['purge', '--yes'])).toMatchObject({ exitCode: 0, stdout: 'purged 1' });
    const empty = await cli(['list', '--broker', url], {});
    expect(empty.exitCode).toBe(0);
    expect(empty.stdout).toBe(`the dead-letter list is empty (${url.replace(':guest@', ':***@')})`);
  });

  it('an unreachable RabbitMQ: exit 1 with BROKER_UNAVAILABLE, password masked', async () => {
    const port = await freePort();
    const down = await cli(['list', '--broker', `amqp://guest:guest@127.0.0.1:${port}/`], {});
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain('[BROKER_UNAVAILABLE]');
    expect(down.stderr).toContain(`amqp://guest:***@127.0.0.1:${port}/`);
  });
});

describe('celeriac dead-letter on RabbitMQ over TLS with a private CA', { timeout: 60_000 }, () => {
  let certs: TestCertificates;
  let node: RabbitNode;

  beforeAll(async () => {
    certs = makeTestCertificates();
    node = await RabbitNode.start({
      tls: { caCert: certs.caCert, serverCert: certs.serverCert, serverKey: certs.serverKey },
    });
  });

  afterAll(async () => {
    await node?.stop();
    certs?.remove();
  });

  it('connects with --broker-use-ssl (or CELERIAC_BROKER_USE_SSL) and refuses the server without the CA', async () => {
    const useSsl = JSON.stringify({ ca_certs: certs.caCert, cert_reqs: 'CERT_REQUIRED' });
    const ok = await cli(['list', '--broker', node.tlsUrl(), '--broker-use-ssl', useSsl], {});
    expect(ok.stderr).toBe('');
    expect(ok).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^the dead-letter list is empty/) });
    const byEnv = await cli(['purge', '--yes'], {
      CELERIAC_BROKER_URL: node.tlsUrl(),
      CELERIAC_BROKER_USE_SSL: useSsl,
    });
    expect(byEnv).toMatchObject({ exitCode: 0, stdout: 'purged 0' });
    const refused = await cli(['list', '--broker', node.tlsUrl()], {});
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('[AMQP_TLS_CERTIFICATE]');
    expect(refused.stderr).toContain('ca_certs');
  });
});
