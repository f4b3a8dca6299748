import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's RabbitMQ of the development and CI machines (deploy/setup-debian.sh starts it). */
export const RABBITMQ_HOST = '127.0.0.1:5672';

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 60_000 });
  return stdout;
}

/** What follows `rabbitmqctl list_queues [-p <vhost>]` for `queueCountsOf` to read. */
export const QUEUE_COUNT_COLUMNS = [
  '--no-table-headers',
  '--quiet',
  'name',
  'messages_ready',
  'messages_unacknowledged',
] as const;

/** Messages ready and unacknowledged in `queue`, read from `list_queues ...QUEUE_COUNT_COLUMNS` output; null when it is not listed. */
export function queueCountsOf(out: string, queue: string): { ready: number; unacked: number } | null {
  for (const line of out.split('\n')) {
    const [name, ready, unacked] = line.trim().split(/\s+/);
    if (name === queue) return { ready: Number(ready), unacked: Number(unacked) };
  }
  return null;
}

/**
 * A RabbitMQ vhost of one test (`celeriac-test-<random>`, guest has every permission on it), so
 * runs and files never see each other's queues. `delete()` removes it with everything in it.
 */
export class RabbitVhost {
  private constructor(readonly name: string) {}

  /** Creates the vhost and grants guest configure/write/read on it. */
  static async create(): Promise<RabbitVhost> {
    const name = `celeriac-test-${randomBytes(5).toString('hex')}`;
    await rabbitmqctl('add_vhost', name);
    await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
    return new RabbitVhost(name);
  }

  /** `amqp://guest:guest@127.0.0.1:5672/<vhost>` (the vhost URL-encoded, as kombu reads it). */
  url(scheme: 'amqp' | 'pyamqp' = 'amqp'): string {
    return `${scheme}://guest:guest@${RABBITMQ_HOST}/${encodeURIComponent(this.name)}`;
  }

  /** Messages ready and unacknowledged in `queue` (`rabbitmqctl list_queues`); null when it does not exist. */
  async queueCounts(queue: string): Promise<{ ready: number; unacked: number } | null> {
    return queueCountsOf(await rabbitmqctl('list_queues', '-p', this.name, ...QUEUE_COUNT_COLUMNS), queue);
  }

  /** The queue's arguments as rabbitmqctl prints them (e.g. `[{"x-max-priority",10}]`). */
  async queueInfo(queue: string): Promise<{ durable: boolean; arguments: string } | null> {
    const out = await rabbitmqctl(
      'list_queues',
      '-p',
      this.name,
      '--no-table-headers',
      '--quiet',
      'name',
      'durable',
      'arguments',
    );
    for (const line of out.split('\n')) {
      const [name, durable, ...rest] = line.trim().split(/\s+/);
      if (name === queue) return { durable: durable === 'true', arguments: rest.join(' ') };
    }
    return null;
  }

  /** Deletes the vhost (idempotent). */
  async delete(): Promise<void> {
    await rabbitmqctl('delete_vhost', this.name).catch(() => undefined);
  }
}
