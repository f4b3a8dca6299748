/** kombu's separator between a queue name and its priority step: `celery\x06\x163`. */
export const PRIORITY_SEPARATOR = '\x06\x16';

/** kombu's default priority steps; a priority lands in the largest step that is <= it. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;

/** The step (0, 3, 6 or 9) for a message priority 0-9; out-of-range values are clamped, junk is 0. */
export function priorityStep(p: number): 0 | 3 | 6 | 9 {
  if (typeof p !== 'number' || !(p >= 3)) return 0;
  if (p >= 9) return 9;
  if (p >= 6) return 6;
  return 3;
}

/** The Redis list holding a queue's messages of a priority: `celery` for step 0, else `celery\x06\x163` etc. */
export function priorityQueueName(queue: string, priority: number): string {
  const step = priorityStep(priority);
  return step === 0 ? queue : `${queue}${PRIORITY_SEPARATOR}${step}`;
}
