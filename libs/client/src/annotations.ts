import { ConfigError } from './errors.js';

/** `task_annotations`: `{ 'tasks.add': { rate_limit: '10/m' }, '*': {...} }`, or a list of such maps. */
export type TaskAnnotations =
  | Record<string, Record<string, unknown>>
  | ReadonlyArray<Record<string, Record<string, unknown>>>
  | null
  | undefined;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asList(annotations: TaskAnnotations): ReadonlyArray<Record<string, Record<string, unknown>>> {
  if (annotations === null || annotations === undefined) return [];
  const list = Array.isArray(annotations) ? annotations : [annotations];
  list.forEach((map, index) => {
    if (!isObject(map)) {
      const where = Array.isArray(annotations) ? `task_annotations[${index}]` : 'task_annotations';
      throw new ConfigError(
        `${where} must be a map of task name (or "*") to options; annotation classes by import path are not supported`,
      );
    }
  });
  return list as ReadonlyArray<Record<string, Record<string, unknown>>>;
}

/** The options of the first map that has `key` (Celery's `firstmethod`), checked to be an object. */
function firstEntry(
  list: ReadonlyArray<Record<string, Record<string, unknown>>>,
  key: string,
): Record<string, unknown> | undefined {
  const map = list.find((m) => Object.hasOwn(m, key));
  if (map === undefined) return undefined;
  const options = map[key];
  if (!isObject(options)) {
    throw new ConfigError(
      `task_annotations["${key}"] must be an object of task options, got ${JSON.stringify(options)}`,
    );
  }
  return options;
}

/**
 * The annotation attributes for one task, merged as Celery 5.2 does (`celery/app/annotations.py`):
 * the first map naming the task exactly, then the first map with a `'*'` entry on top of it.
 * Throws `ConfigError` for a value that is not a map of options.
 */
export function annotationsFor(taskName: string, annotations: TaskAnnotations): Record<string, unknown> {
  const list = asList(annotations);
  return { ...firstEntry(list, taskName), ...firstEntry(list, '*') };
}
