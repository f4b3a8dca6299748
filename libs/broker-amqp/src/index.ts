export { AmqpBroker, type AmqpBrokerOptions } from './amqp-broker.js';
export type { AmqpConnectionChange, AmqpConnectionState } from './amqp-connection-status.js';
export { type AmqpConnected, type AmqpEndpoints, amqpSocketOptions, connectFirst } from './amqp-connector.js';
export { AmqpControlConnection, type AmqpControlConnectionOptions } from './amqp-control-connection.js';
export { AmqpDeadLetterStore, type AmqpDeadLetterStoreOptions } from './amqp-dead-letter-store.js';
export { type AmqpOutgoing, amqpToEnvelope, envelopeToAmqp } from './amqp-envelope.js';
export { AmqpError, type AmqpErrorCode } from './amqp-errors.js';
export { AmqpEventTransport } from './amqp-event-transport.js';
export { AmqpPidboxClient, type AmqpPidboxClientOptions } from './amqp-pidbox-client.js';
export { AmqpPidboxNode, type AmqpPidboxNodeOptions } from './amqp-pidbox-node.js';
export { type AmqpPlaneSettings, amqpPlaneEndpoints, amqpPlaneSettings } from './amqp-plane-settings.js';
export { type AmqpReconnectPolicy, reconnectPolicyOf, reconnectSleepMs } from './amqp-reconnect.js';
export {
  AMQP_URL_SCHEMES,
  type AmqpCertReqs,
  type AmqpTlsOptions,
  amqpConnectOptions,
  type FailoverStrategy,
  failoverOrder,
  isAmqpsUrl,
  isAmqpUrl,
  parseAmqpUrlList,
  parseAmqpUseSsl,
  parseFailoverStrategy,
} from './amqp-url.js';
export { type BrokerForUrlOptions, brokerForUrl } from './broker-for-url.js';
export { AMQP_DEAD_LETTER_QUEUE } from './dead-letter-queue.js';
export { generationTag, OrphanedDeliveries, type RedeliveryAction } from './orphaned-deliveries.js';
export { type AmqpQueueType, type QueueDeclaration, QueueDeclarations, queueArguments } from './queue-declarations.js';
