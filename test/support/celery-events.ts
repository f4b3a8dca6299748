import { Redis } from 'ioredis';

/** One Celery event as it crossed the wire (`type`, `hostname`, `uuid`, ...). */
export type CeleryEvent = Record<string, unknown> & { type: string; hostname: string };

/**
 * Listens on the broker's celeryev fanout (`/<db>.celeryev/*`, what `celery events` reads) and
 * keeps every event, `task.multi` batches unpacked, in arrival order.
 */
export class EventTap {
  readonly events: CeleryEvent[] = [];
  private constructor(private readonly redis: Redis) {}

  static async start(url: string, db = 0): Promise<EventTap> {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    const tap = new EventTap(redis);
    redis.on('pmessage', (_pattern: string, _channel: string, message: string) => {
      const envelope = JSON.parse(message) as { body: string; properties?: { body_encoding?: string } };
      // Without body_encoding (celeriac's task.multi) the body is the JSON text itself, as kombu reads it.
      const text =
        envelope.properties?.body_encoding === 'base64'
          ? Buffer.from(envelope.body, 'base64').toString('utf8')
          : envelope.body;
      const body = JSON.parse(text) as CeleryEvent | CeleryEvent[];
      tap.events.push(...(Array.isArray(body) ? body : [body]));
    });
    await redis.psubscribe(`/${db}.celeryev/*`);
    return tap;
  }

  /** Events of `type` (and of task `uuid` when given). */
  of(type: string, uuid?: string): CeleryEvent[] {
    return this.events.filter((e) => e.type === type && (uuid === undefined || e.uuid === uuid));
  }

  /** The event types seen for a task, in order. */
  typesOf(uuid: string): string[] {
    return this.events.filter((e) => e.uuid === uuid).map((e) => e.type);
  }

  async stop(): Promise<void> {
    this.redis.disconnect();
  }
}
