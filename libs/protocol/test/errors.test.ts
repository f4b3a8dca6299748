import { describe, expect, it } from 'vitest';
import * as protocol from '../src/index.js';

type ErrorClass = (new (...args: never[]) => Error) & { codes?: readonly string[] };

const SAMPLES: [ErrorClass, () => Error & { code: string }][] = [
  [protocol.ProtocolError, () => new protocol.ProtocolError('PROTOCOL_ENCODE_FAILED', 'm')],
  [protocol.RateLimitFormatError, () => new protocol.RateLimitFormatError('10/x')],
  [protocol.ProtocolEncodeError, () => new protocol.ProtocolEncodeError('m')],
  [protocol.ResultDecodeError, () => new protocol.ResultDecodeError('m')],
  [protocol.SerializerUnsupportedError, () => new protocol.SerializerUnsupportedError('result_serializer', 'pickle')],
  [
    protocol.RemoteTaskError,
    () => new protocol.RemoteTaskError({ excType: 'E', excModule: null, excMessage: [], traceback: null, taskId: 't' }),
  ],
];

describe('protocol error catalogue', () => {
  it('every exported error class is listed here', () => {
    const exported = Object.values(protocol).filter(
      (v: unknown) => typeof v === 'function' && v.prototype instanceof Error,
    );
    expect(new Set(exported)).toEqual(new Set(SAMPLES.map(([cls]) => cls)));
  });

  it.each(SAMPLES.map(([cls, make]) => [cls.name, cls, make] as const))(
    '%s: static codes with the PROTOCOL_ prefix, the instance code among them',
    (_name, cls, make) => {
      expect(cls.codes?.length).toBeGreaterThan(0);
      for (const code of cls.codes ?? []) expect(code).toMatch(/^PROTOCOL_[A-Z0-9_]+$/);
      const error = make();
      expect(cls.codes).toContain(error.code);
      expect(error.name).toBe(cls.name);
    },
  );

  it('the encode error has a name of its own (kombu.exceptions.EncodeError is the worker one)', () => {
    expect(protocol.ProtocolEncodeError.name).not.toBe('EncodeError');
    expect('EncodeError' in protocol).toBe(false);
  });
});
