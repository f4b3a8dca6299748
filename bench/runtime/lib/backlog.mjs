// How a system's backlog of drained tasks waits while its worker starts, per broker.
//
// Redis: the tasks are enqueued on the list `bench`, which is renamed away (`bench.hold`) while the
// worker starts and renamed back at the release, so the clock starts at an idle, ready worker.
// RabbitMQ has no such move (a queue cannot be renamed; a consumer that holds the messages
// unacked gives them back marked redelivered, which a worker treats differently; a dead-letter
// move runs at RabbitMQ's own pace during the drain): the backlog waits in `bench` itself, the
// worker drains it from its start, and the clock starts at its ready signal, the tasks it finished
// before that left out of the count (`startsDraining`).

/** The Redis rows' backlog: RENAME of the list out of the worker's way and back. */
export const redisBacklog = {
  startsDraining: false,
  purge: (commands) => commands.broker.flushdb(),
  hold: (commands) => commands.broker.rename('bench', 'bench.hold'),
  release: (commands) => commands.broker.rename('bench.hold', 'bench'),
};

/** The AMQP rows' backlog on `vhost` (lib/rabbitmq-vhost.mjs): queue `bench`, drained from the worker's start. */
export function amqpBacklog(vhost) {
  return {
    startsDraining: true,
    purge: () => vhost.purge('bench'),
    /** Waits until all `n` published tasks are in the queue (a Python producer does not wait for confirms). */
    async hold(_commands, n) {
      const deadline = performance.now() + 30_000;
      for (;;) {
        const ready = await vhost.ready('bench');
        if (ready >= n) return;
        if (performance.now() > deadline) throw new Error(`only ${ready}/${n} tasks reached the queue bench`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    release: async () => undefined,
  };
}
