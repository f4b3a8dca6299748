/** `task_annotations`: `{ 'tasks.add': { rate_limit: '10/m' }, '*': {...} }`, or a list of such maps. */
export type TaskAnnotations =
  | Record<string, Record<string, unknown>>
  | ReadonlyArray<Record<string, Record<string, unknown>>>
  | null
  | undefined;

function asList(annotations: TaskAnnotations): ReadonlyArray<Record<string, Record<string, unknown>>> {
  if (annotations === null || annotations === undefined) return [];
  return Array.isArray(annotations) ? annotations : [annotations as Record<string, Record<string, unknown>>];
}

/**
 * The annotation attributes for one task, merged as Celery does: the first map naming the task
 * exactly, then the first map with a `'*'` entry on top of it.
 */
export function annotationsFor(taskName: string, annotations: TaskAnnotations): Record<string, unknown> {
  const list = asList(annotations);
  const exact = list.find((m) => m !== null && typeof m === 'object' && Object.hasOwn(m, taskName))?.[taskName];
  const any = list.find((m) => m !== null && typeof m === 'object' && Object.hasOwn(m, '*'))?.['*'];
  return { ...(exact ?? {}), ...(any ?? {}) };
}
