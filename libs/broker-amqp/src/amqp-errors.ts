/** Every `code` an error of the RabbitMQ transport's own can carry (the rest are `BrokerError`s). */
export type AmqpErrorCode = 'AMQP_URL_INVALID' | 'AMQP_TLS_CERTIFICATE' | 'AMQP_TLS_FILE' | 'AMQP_QUEUE_CONFLICT';

/**
 * A RabbitMQ setting that cannot work: a broker URL or URL list, a `broker_use_ssl` dict, a TLS
 * handshake the server's certificate failed, or a queue table RabbitMQ would refuse (quorum queues
 * with priorities). Messages name the setting and never the password.
 */
export class AmqpError extends Error {
  static readonly codes: readonly AmqpErrorCode[] = [
    'AMQP_URL_INVALID',
    'AMQP_TLS_CERTIFICATE',
    'AMQP_TLS_FILE',
    'AMQP_QUEUE_CONFLICT',
  ];

  constructor(
    readonly code: AmqpErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
