import { describe, expect, it } from 'vitest';
import * as backend from '../src/index.js';

type ErrorClass = (new (...args: never[]) => Error) & { codes?: readonly string[] };

const SAMPLES: [ErrorClass, () => Error & { code: string }][] = [
  [backend.ResultBackendError, () => new backend.ResultBackendError('RESULT_BACKEND_CLOSED', 'm')],
  [
    backend.ResultBackendUnavailableError,
    () => new backend.ResultBackendUnavailableError('redis://:pw@127.0.0.1:1/1', 'get', new Error('x')),
  ],
  [backend.ResultBackendClosedError, () => new backend.ResultBackendClosedError('get', 'closed')],
  [backend.ResultBackendArgumentError, () => new backend.ResultBackendArgumentError('m')],
  [backend.ResultBackendScriptMissingError, () => new backend.ResultBackendScriptMissingError('store-many.lua', '/x/')],
  [backend.ResultContentDisallowedError, () => new backend.ResultContentDisallowedError('t1', 'msgpack', ['json'])],
];

describe('result backend error catalogue', () => {
  it('every exported error class is listed here', () => {
    const exported = Object.values(backend).filter(
      (v: unknown) => typeof v === 'function' && v.prototype instanceof Error,
    );
    expect(new Set(exported)).toEqual(new Set(SAMPLES.map(([cls]) => cls)));
  });

  it.each(SAMPLES.map(([cls, make]) => [cls.name, cls, make] as const))(
    '%s: static codes with the RESULT_ prefix, the instance code among them, no password',
    (_name, cls, make) => {
      expect(cls.codes?.length).toBeGreaterThan(0);
      for (const code of cls.codes ?? []) expect(code).toMatch(/^RESULT_[A-Z0-9_]+$/);
      const error = make();
      expect(cls.codes).toContain(error.code);
      expect(error.name).toBe(cls.name);
      expect(error.message).not.toContain(':pw@');
    },
  );
});
