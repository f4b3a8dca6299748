/** What an `event` looks like: dotted lower snake_case segments, the program or package first (`agent.apply_failed`). */
export const EVENT_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const FIELD_PATTERN = /^[a-z][a-z0-9_]*$/;
/** Fields pino itself writes; they are part of the schema as they are. */
const PINO_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/**
 * The problems of one parsed JSON log line against the log schema: it must carry an `event`
 * matching `EVENT_PATTERN`, and every field name (nested objects included, except inside `err`,
 * whose shape is the error's own) must be snake_case. An empty list means the line is valid.
 */
export function logSchemaViolations(line: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const event = line.event;
  if (typeof event !== 'string') problems.push('no "event" field');
  else if (!EVENT_PATTERN.test(event)) problems.push(`event "${event}" is not dotted lower snake_case`);
  for (const [key, value] of Object.entries(line)) {
    if (PINO_FIELDS.has(key) || key === 'event') continue;
    checkField(key, value, key, problems, 0);
  }
  return problems;
}

function checkField(key: string, value: unknown, path: string, problems: string[], depth: number): void {
  if (!FIELD_PATTERN.test(key)) problems.push(`field "${path}" is not snake_case`);
  if (key === 'err' || key === 'error' || depth > 4) return;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) checkField(k, v, `${path}.${k}`, problems, depth + 1);
  }
}
