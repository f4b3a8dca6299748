import { isAmqpUrl } from '@celeriac/broker-amqp/url';

/** Which broker transport a program's settings select: RabbitMQ for `amqp(s)://` / `pyamqp://`, else Redis. */
export type BrokerTransport = 'redis' | 'amqp';

/** The transport `broker_url` selects (Redis when it is not set or not a RabbitMQ URL, as the worker chooses). */
export function brokerTransportOf(settings: Readonly<Record<string, unknown>>): BrokerTransport {
  return isAmqpUrl(settings.broker_url) ? 'amqp' : 'redis';
}
