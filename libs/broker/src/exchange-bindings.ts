import { BrokerArgumentError } from './errors.js';

/** kombu's exchange types on Redis (the `headers` type is not implemented by kombu's virtual transport either). */
export type ExchangeType = 'direct' | 'topic' | 'fanout';

/** The exchange types kombu's virtual transport implements. */
export const EXCHANGE_TYPES: readonly ExchangeType[] = ['direct', 'topic', 'fanout'];

/** A queue's binding to an exchange, as `task_queues` declares it (kombu's `Queue(name, Exchange(e, type), routing_key)`). */
export interface QueueBinding {
  queue: string;
  exchange: string;
  exchangeType: ExchangeType;
  /** The binding key; for a topic exchange it may hold `*` (one word) and `#` (any words). */
  routingKey: string;
}

/** One member of a `_kombu.binding.<exchange>` set, split. */
export interface BindingMember {
  routingKey: string;
  /** For a topic binding: kombu's regex (Python syntax) of the binding key; '' otherwise. */
  pattern: string;
  queue: string;
}

/** Whether `value` is one of kombu's exchange types. */
export function isExchangeType(value: unknown): value is ExchangeType {
  return typeof value === 'string' && (EXCHANGE_TYPES as readonly string[]).includes(value);
}

/** kombu's `_kombu.binding.<exchange>` set key (before any `global_keyprefix`). */
export function exchangeBindingKey(exchange: string): string {
  return '_kombu.binding.' + exchange;
}

const WILDCARDS: Record<string, string> = { '*': '.*?[^\\.]', '#': '.*?' };

/** kombu's `escape_regex(p, white)`: every character that is not alphanumeric (nor in `white`) gets a backslash. */
function escapeRegex(text: string, white: string): string {
  let out = '';
  for (const c of text) {
    if (/^[\p{L}\p{N}]$/u.test(c) || white.includes(c)) out += c;
    else if (c === '\0') out += '\\000';
    else out += '\\' + c;
  }
  return out;
}

/**
 * kombu's `TopicExchange.key_to_pattern`: the regex text stored as the pattern of a topic binding,
 * e.g. `a.*.#` → `^a\..*?[^\.]\..*?$`. Stored byte for byte as kombu writes it, so Python producers
 * match our bindings and we match theirs.
 */
export function topicPattern(routingKey: string): string {
  const words = escapeRegex(routingKey, '.#*').split('.');
  return `^${words.map((word) => WILDCARDS[word] ?? word).join('\\.')}$`;
}

/** The member kombu adds for a binding: `<routing_key><sep><pattern><sep><queue>` (pattern only for topic). */
export function bindingMemberOf(binding: QueueBinding, sep: string): string {
  const pattern = binding.exchangeType === 'topic' ? topicPattern(binding.routingKey) : '';
  return binding.routingKey + sep + pattern + sep + binding.queue;
}

/** Splits a binding member; undefined when it has not exactly three parts. */
export function parseBindingMember(member: string, sep: string): BindingMember | undefined {
  const parts = member.split(sep);
  if (parts.length !== 3) return undefined;
  return { routingKey: parts[0]!, pattern: parts[1]!, queue: parts[2]! };
}

const compiled = new Map<string, RegExp | null>();

/**
 * Python's `re.match(pattern, key)` for kombu's topic patterns: anchored at the start. The patterns
 * kombu writes are plain enough to mean the same in JavaScript (backslash escapes of punctuation,
 * `.*?`, character classes). A pattern JavaScript cannot compile matches nothing.
 */
function topicMatches(pattern: string, routingKey: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern.startsWith('^') ? pattern : `^(?:${pattern})`, 's');
    } catch {
      re = null;
    }
    compiled.set(pattern, re);
  }
  return re?.test(routingKey) === true;
}

/**
 * The queues an exchange delivers a message with `routingKey` to, from the members of its binding
 * set, as kombu's exchange types look them up: direct by equal routing key, topic by each member's
 * stored pattern (an empty pattern matches everything, as `re.match('', ...)` does), fanout every
 * queue. Each queue once, in member order.
 */
export function matchingQueues(type: ExchangeType, members: readonly BindingMember[], routingKey: string): string[] {
  const out: string[] = [];
  for (const m of members) {
    const hit =
      type === 'fanout' ||
      (type === 'direct' && m.routingKey === routingKey) ||
      (type === 'topic' && (m.pattern === '' || topicMatches(m.pattern, routingKey)));
    if (hit && m.queue !== '' && !out.includes(m.queue)) out.push(m.queue);
  }
  return out;
}

/** Checks a binding from configuration; throws BROKER_BAD_ARGUMENT naming the field. */
export function checkQueueBinding(binding: QueueBinding): QueueBinding {
  if (typeof binding.queue !== 'string' || binding.queue === '') {
    throw new BrokerArgumentError('a queue binding needs a non-empty queue name');
  }
  if (typeof binding.exchange !== 'string' || binding.exchange === '') {
    throw new BrokerArgumentError(`queue "${binding.queue}": the exchange must be a non-empty string`);
  }
  if (!isExchangeType(binding.exchangeType)) {
    throw new BrokerArgumentError(
      `queue "${binding.queue}": exchange type must be one of ${EXCHANGE_TYPES.join(', ')}, got ${JSON.stringify(binding.exchangeType)}`,
    );
  }
  if (typeof binding.routingKey !== 'string') {
    throw new BrokerArgumentError(`queue "${binding.queue}": the routing key must be a string`);
  }
  return binding;
}
