/**
 * Sets `headers.redelivered` and `properties.delivery_info.redelivered` to true, as kombu does when it
 * puts a message back (visibility restore, warm shutdown). An entry that is not a JSON envelope is
 * returned unchanged so that it can still be dead-lettered as it was.
 */
export function markRedelivered(raw: string): string {
  let env: unknown;
  try {
    env = JSON.parse(raw);
  } catch {
    return raw;
  }
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return raw;
  const e = env as Record<string, unknown>;
  const headers = e.headers;
  if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) {
    (headers as Record<string, unknown>).redelivered = true;
  } else if (headers === undefined || headers === null) {
    e.headers = { redelivered: true };
  }
  const props = e.properties;
  if (typeof props === 'object' && props !== null && !Array.isArray(props)) {
    const info = (props as Record<string, unknown>).delivery_info;
    if (typeof info === 'object' && info !== null && !Array.isArray(info)) {
      (info as Record<string, unknown>).redelivered = true;
    }
  }
  return JSON.stringify(e);
}
