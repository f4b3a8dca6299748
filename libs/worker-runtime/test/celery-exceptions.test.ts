import { describe, expect, it } from 'vitest';
import { TaskArgumentError } from '../src/build-arguments.js';
import * as celery from '../src/celery-exceptions.js';
import { exceptionDocument } from '../src/exception-document.js';

type ErrorClass = (new (...args: never[]) => Error) & { codes?: readonly string[] };

// [class, instance, the Python type and module a Celery 5.2 worker stores for it]
const SAMPLES: [ErrorClass, () => Error & { code: string }, string, string][] = [
  [celery.NotRegistered, () => new celery.NotRegistered('t.x'), 'NotRegistered', 'celery.exceptions'],
  [celery.ContentDisallowed, () => new celery.ContentDisallowed('r'), 'ContentDisallowed', 'kombu.exceptions'],
  [celery.DecodeError, () => new celery.DecodeError('r'), 'DecodeError', 'kombu.exceptions'],
  [celery.EncodeError, () => new celery.EncodeError('r'), 'EncodeError', 'kombu.exceptions'],
  [
    celery.SoftTimeLimitExceeded,
    () => new celery.SoftTimeLimitExceeded(1),
    'SoftTimeLimitExceeded',
    'billiard.exceptions',
  ],
  [celery.TimeLimitExceeded, () => new celery.TimeLimitExceeded(1), 'TimeLimitExceeded', 'billiard.exceptions'],
  [
    celery.CeleryTaskRevokedError,
    () => new celery.CeleryTaskRevokedError('expired'),
    'TaskRevokedError',
    'celery.exceptions',
  ],
  [
    celery.MaxRetriesExceededError,
    () => new celery.MaxRetriesExceededError('t.x', 'id', 3),
    'MaxRetriesExceededError',
    'celery.exceptions',
  ],
  [
    celery.Retry,
    () => new celery.Retry({ countdownSec: 1, eta: null, exc: null, maxRetries: 3 }),
    'Retry',
    'celery.exceptions',
  ],
  [
    TaskArgumentError,
    () => new TaskArgumentError("t() got an unexpected keyword argument 'x'"),
    'TypeError',
    'builtins',
  ],
];

describe('Celery exceptions raised by the worker', () => {
  it.each(SAMPLES.map(([cls, make, type, module]) => [cls.name, cls, make, type, module] as const))(
    '%s: static WORKER_ codes, and the Python type and module on the wire',
    (_name, cls, make, type, module) => {
      expect(cls.codes?.length).toBeGreaterThan(0);
      for (const code of cls.codes ?? []) expect(code).toMatch(/^WORKER_[A-Z0-9_]+$/);
      const error = make();
      expect(cls.codes).toContain(error.code);
      expect(error.name).toBe(type);
      const doc = exceptionDocument(error, false) as { result: { exc_type: string; exc_module: string } };
      expect(doc.result).toMatchObject({ exc_type: type, exc_module: module });
    },
  );

  it('the JS class of celery.exceptions.TaskRevokedError does not share the client’s class name', () => {
    expect(celery.CeleryTaskRevokedError.name).not.toBe('TaskRevokedError');
  });
});
