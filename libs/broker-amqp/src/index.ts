export { AmqpBroker, type AmqpBrokerOptions } from './amqp-broker.js';
export { type AmqpOutgoing, amqpToEnvelope, envelopeToAmqp } from './amqp-envelope.js';
export { AMQP_URL_SCHEMES, amqpConnectOptions, isAmqpUrl } from './amqp-url.js';
export { type BrokerForUrlOptions, brokerForUrl } from './broker-for-url.js';
export { type QueueDeclaration, QueueDeclarations } from './queue-declarations.js';
