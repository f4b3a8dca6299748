import { RemoteTaskError } from '@celeriac/protocol';
import { ResultContentDisallowedError } from '@celeriac/result-backend';
import { describe, expect, it } from 'vitest';
import * as client from '../src/index.js';

type ErrorClass = (new (...args: never[]) => Error) & { codes?: readonly string[] };

const SAMPLES: [ErrorClass, () => Error & { code: string }][] = [
  [client.CeleriacError, () => new client.CeleriacError('CLIENT_CLOSED', 'm')],
  [client.TimeoutError, () => new client.TimeoutError('t', 10)],
  [client.TaskRevokedError, () => new client.TaskRevokedError('t', 'expired')],
  [client.ConfigError, () => new client.ConfigError('m')],
  [client.ApplyOptionsError, () => new client.ApplyOptionsError('m')],
  [client.ClientClosedError, () => new client.ClientClosedError('send task t')],
  [client.TaskAlreadyRegisteredError, () => new client.TaskAlreadyRegisteredError('t')],
  [client.TaskDefinitionError, () => new client.TaskDefinitionError('t', ['bad'])],
  [client.ChainError, () => new client.ChainError('m')],
  [client.CanvasError, () => new client.CanvasError('m')],
  [client.BatchPartiallySentError, () => new client.BatchPartiallySentError(1, [], new Error('x'))],
];

describe('client error catalogue', () => {
  it('every exported error class is listed here (RemoteTaskError and ResultContentDisallowedError are re-exported)', () => {
    const exported = Object.values(client).filter(
      (v: unknown) => typeof v === 'function' && v.prototype instanceof Error,
    );
    expect(new Set(exported)).toEqual(
      new Set([...SAMPLES.map(([cls]) => cls), RemoteTaskError, ResultContentDisallowedError]),
    );
  });

  it.each(SAMPLES.map(([cls, make]) => [cls.name, cls, make] as const))(
    '%s: static codes with the CLIENT_ prefix, the instance code among them',
    (_name, cls, make) => {
      expect(cls.codes?.length).toBeGreaterThan(0);
      for (const code of cls.codes ?? []) expect(code).toMatch(/^CLIENT_[A-Z0-9_]+$/);
      const error = make();
      expect(cls.codes).toContain(error.code);
      expect(error.name).toBe(cls.name);
      expect(error).toBeInstanceOf(client.CeleriacError);
    },
  );
});
