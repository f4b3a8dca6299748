export type {
  BrokerOptions,
  Delivery,
  DroppedDelayed,
  LimitedDelivery,
  WaitForOneOptions,
} from './broker-options.js';
export { brokerOptionsFromCelery, HONOURED_TRANSPORT_OPTIONS } from './celery-broker-options.js';
export type { DeadLetterDetails, DeadLetterEntry, DeadLetterList, DeadLetterRecord } from './dead-letters.js';
export { deadLetterEntry, deadLetterRecord } from './dead-letters.js';
export type { DeferItem, RescheduleItem } from './delayed-set.js';
export {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerDeadLetterError,
  BrokerError,
  type BrokerErrorCode,
  BrokerQueueNotFoundError,
  BrokerScriptMissingError,
  BrokerUnavailableError,
  BrokerUnroutableError,
} from './errors.js';
export {
  type BindingMember,
  bindingMemberOf,
  checkQueueBinding,
  EXCHANGE_TYPES,
  type ExchangeType,
  exchangeBindingKey,
  isExchangeType,
  matchingQueues,
  parseBindingMember,
  type QueueBinding,
  topicPattern,
} from './exchange-bindings.js';
export type { ExchangePublish } from './exchange-router.js';
export {
  type FleetAcquireReply,
  FleetLimitClient,
  type FleetLimitClientOptions,
  type FleetLimitSnapshot,
  type FleetSlot,
  type FleetTakeReply,
  type FleetWaitingReport,
} from './fleet-limit-client.js';
export {
  DEFAULT_FLEET_LEASE_MS,
  FLEET_ANNOTATION_KEYS,
  FLEET_LIMITS_SETTING,
  type FleetLimit,
  type FleetLimitDocument,
  fleetCapacity,
  fleetLimitsFromSettings,
  fleetTaskLimit,
  parseFleetLimitDocument,
} from './fleet-limit-definitions.js';
export {
  FLEET_LIMITS_CHANNEL,
  FLEET_LIMITS_KEY,
  FLEET_SLOTS_PREFIX,
  FLEET_WAITING_KEY,
  fleetRateKey,
  fleetSlotMember,
  fleetSlotsKey,
  fleetStatsKey,
} from './fleet-limit-keys.js';
export {
  bindingKey,
  bindingMember,
  DEFAULT_DEAD_LETTER_KEY,
  DEFAULT_DEAD_LETTER_MAX_ENTRIES,
  DEFAULT_DEAD_LETTER_MAX_RAW_BYTES,
  DEFAULT_REDELIVERY_LIMIT,
  DELAYED_KEY,
  delayedMember,
  heldKey,
  inflightKey,
  leaseKey,
  OWNERS_KEY,
  PRIORITY_STEPS,
  priorityListKey,
  queueOfListKey,
  REDELIVERIES_PREFIX,
  REDELIVERY_LIMIT_KEY,
  SEP,
  UNACKED_INDEX_KEY,
  UNACKED_KEY,
  UNACKED_MUTEX_KEY,
} from './keys.js';
export { QueueLists } from './queue-lists.js';
export { RedisBroker } from './redis-broker.js';
export type { TaskBroker } from './task-broker.js';
export { type TaskQueues, taskQueuesFromSettings } from './task-queues.js';
export {
  DEFAULT_TRANSPORT_OPTIONS,
  globalKeyPrefixFromSettings,
  priorityStepOf,
  QUEUE_ORDER_STRATEGIES,
  type QueueOrderStrategy,
  resolveTransportOptions,
  type TransportOptions,
} from './transport-options.js';
