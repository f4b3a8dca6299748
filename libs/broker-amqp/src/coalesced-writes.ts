import type { ChannelModel } from 'amqplib';

/** The parts of amqplib's connection (2.x, not typed) that `coalesceWrites` reaches. */
interface MuxedConnection {
  stream?: { cork?: () => void; uncork?: () => void };
  muxer?: { _readIncoming?: () => void };
}

/**
 * Makes amqplib send the frames its muxer has ready in one socket write: it writes each publish
 * (or ack) on its own, one syscall and one TCP segment apiece, and under a pipelined load (a
 * thousand `delay()` calls in flight) that is most of the client's CPU and a good share of
 * RabbitMQ's. The muxer's pass runs corked, so Node hands the batch to one writev. Returns false
 * (and changes nothing) when this amqplib is not shaped as expected: frames then go out one by one.
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const connection = (model as unknown as { connection?: MuxedConnection }).connection;
  const stream = connection?.stream;
  const muxer = connection?.muxer;
  const pass = muxer?._readIncoming;
  if (muxer === undefined || typeof pass !== 'function') return false;
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return false;
  muxer._readIncoming = function corked(this: unknown) {
    stream.cork?.();
    try {
      pass.call(this);
    } finally {
      stream.uncork?.();
    }
  };
  return true;
}
