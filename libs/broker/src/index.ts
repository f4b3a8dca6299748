export {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerError,
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
export { type BrokerOptions, type Delivery, RedisBroker, type WaitForOneOptions } from './redis-broker.js';
