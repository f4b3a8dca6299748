/** Every Redis key name the result backend touches, in one place. */

/** Prefix of Celery's result documents; the key is also the pub/sub channel of its updates. */
export const RESULT_KEY_PREFIX = 'celery-task-meta-';

/** `celery-task-meta-<taskId>`: the stored result document and the channel it is published on. */
export function resultKey(taskId: string): string {
  return RESULT_KEY_PREFIX + taskId;
}

/** The task id of a result key or channel. */
export function taskIdOfKey(key: string): string {
  return key.startsWith(RESULT_KEY_PREFIX) ? key.slice(RESULT_KEY_PREFIX.length) : key;
}
