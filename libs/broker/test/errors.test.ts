import { describe, expect, it } from 'vitest';
import * as broker from '../src/index.js';

type ErrorClass = (new (...args: never[]) => Error) & { codes?: readonly string[] };
const URL = 'redis://:pw@127.0.0.1:1/0';

const SAMPLES: [ErrorClass, () => Error & { code: string }][] = [
  [broker.BrokerError, () => new broker.BrokerError('BROKER_CLOSED', 'm')],
  [broker.BrokerUnavailableError, () => new broker.BrokerUnavailableError(URL, 'publish', new Error('x'))],
  [broker.BrokerCommandError, () => new broker.BrokerCommandError(URL, 'publish', new Error('x'))],
  [broker.BrokerClosedError, () => new broker.BrokerClosedError('publish', 'closed')],
  [broker.BrokerArgumentError, () => new broker.BrokerArgumentError('m')],
  [broker.BrokerScriptMissingError, () => new broker.BrokerScriptMissingError('ack.lua', '/x/')],
  [broker.BrokerDeadLetterError, () => new broker.BrokerDeadLetterError('BROKER_DEAD_LETTER_NOT_FOUND', 'no record')],
  [broker.BrokerUnroutableError, () => new broker.BrokerUnroutableError('media', 'media.video', 'direct')],
  [broker.BrokerQueueNotFoundError, () => new broker.BrokerQueueNotFoundError('video')],
];

describe('broker error catalogue', () => {
  it('every exported error class is listed here', () => {
    const exported = Object.values(broker).filter(
      (v: unknown) => typeof v === 'function' && v.prototype instanceof Error,
    );
    expect(new Set(exported)).toEqual(new Set(SAMPLES.map(([cls]) => cls)));
  });

  it.each(SAMPLES.map(([cls, make]) => [cls.name, cls, make] as const))(
    '%s: static codes with the BROKER_ prefix, the instance code among them, no password',
    (_name, cls, make) => {
      expect(cls.codes?.length).toBeGreaterThan(0);
      for (const code of cls.codes ?? []) expect(code).toMatch(/^BROKER_[A-Z0-9_]+$/);
      const error = make();
      expect(cls.codes).toContain(error.code);
      expect(error.name).toBe(cls.name);
      expect(error.message).not.toContain(':pw@');
    },
  );
});
