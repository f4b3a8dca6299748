import { randomUUID } from 'node:crypto';

/** A random (version 4) UUID, the form Celery uses for task ids and delivery tags. */
export function uuid4(): string {
  return randomUUID();
}
