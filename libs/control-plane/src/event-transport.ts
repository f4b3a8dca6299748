/** One event message: its routing key on `celeryev` (`worker.heartbeat`, `task.multi`) and its body. */
export interface EventMessage {
  routingKey: string;
  /**
   * The body's JSON text (ASCII); with `inString`, that text escaped to stand between the quotes of
   * a JSON string (how task-event lists are built for a transport whose `bodyInString` is set).
   */
  body: string;
  inString?: boolean;
}

/**
 * How the EventDispatcher reaches the `celeryev` topic exchange: PUBLISH on Redis channels, or
 * basic.publish to the RabbitMQ exchange. Every message carries the header `hostname`.
 */
export interface EventTransport {
  /**
   * Task-event lists are to be written escaped for a JSON string (`EventMessage.inString`): kombu's
   * Redis envelope then carries them as its `body` text as they are, with no base64 step.
   */
  readonly bodyInString?: boolean;
  /**
   * Publishes the messages to `exchange` (`celeryev`) in order, in one round trip where the broker
   * allows, each with `headers` (the same object every call); rejects when it fails.
   */
  publish(
    exchange: string,
    messages: readonly EventMessage[],
    headers: Readonly<Record<string, unknown>>,
  ): Promise<void>;
  /** Closes what the transport opened (a shared connection stays open). Idempotent. */
  close(): Promise<void>;
}
