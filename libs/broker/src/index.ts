export type { BrokerOptions, Delivery, WaitForOneOptions } from './broker-options.js';
export {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerError,
  type BrokerErrorCode,
  BrokerScriptMissingError,
  BrokerUnavailableError,
} from './errors.js';
export {
  bindingKey,
  bindingMember,
  DEFAULT_DEAD_LETTER_KEY,
  heldKey,
  PRIORITY_STEPS,
  priorityListKey,
  queueOfListKey,
  SEP,
  UNACKED_INDEX_KEY,
  UNACKED_KEY,
  UNACKED_MUTEX_KEY,
} from './keys.js';
export { RedisBroker } from './redis-broker.js';
