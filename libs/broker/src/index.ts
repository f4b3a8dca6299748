export type {
  BrokerOptions,
  Delivery,
  DroppedDelayed,
  LimitedDelivery,
  WaitForOneOptions,
} from './broker-options.js';
export type { DeadLetterDetails, DeadLetterEntry, DeadLetterList, DeadLetterRecord } from './dead-letters.js';
export type { DeferItem } from './delayed-set.js';
export {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerDeadLetterError,
  BrokerError,
  type BrokerErrorCode,
  BrokerScriptMissingError,
  BrokerUnavailableError,
} from './errors.js';
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
export { RedisBroker } from './redis-broker.js';
