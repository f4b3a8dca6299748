// A RabbitMQ vhost of one benchmark run on the machine's RabbitMQ (127.0.0.1:5672, guest/guest,
// which deploy/setup-debian.sh installs and starts): created at the start, deleted with everything
// in it at the end, so runs never see each other's queues or a test's.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp from 'amqplib';

const run = promisify(execFile);
const HOST = '127.0.0.1:5672';

const rabbitmqctl = (...args) => run('rabbitmqctl', args, { timeout: 60_000 });

/** Creates `celeriac-bench-<random>` with every permission for guest; `delete()` removes it. */
export async function createBenchVhost() {
  const name = `celeriac-bench-${randomBytes(5).toString('hex')}`;
  await rabbitmqctl('add_vhost', name);
  await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
  const url = `amqp://guest:guest@${HOST}/${encodeURIComponent(name)}`;
  let connection;
  /** A channel of its own per question: a 404 (no such queue) closes the channel it came on. */
  const withChannel = async (use) => {
    if (!connection) {
      connection = await amqp.connect(url);
      connection.on('error', () => undefined);
    }
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await use(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  };
  return {
    name,
    url: () => url,
    /** Empties `queue` when it exists (a system's queue between measurements). */
    purge: (queue) => withChannel((ch) => ch.purgeQueue(queue)).catch(() => undefined),
    /** Messages ready in `queue` (0 when it does not exist). */
    ready: (queue) => withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount).catch(() => 0),
    /** Closes the connection and deletes the vhost (idempotent). */
    async delete() {
      await connection?.close().catch(() => undefined);
      connection = undefined;
      await rabbitmqctl('delete_vhost', name).catch(() => undefined);
    },
  };
}
