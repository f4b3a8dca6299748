/** The delivery tag of a raw entry, found the way the fetch script finds it ('' when absent). */
export function tagOf(raw: string): string {
  const match = /"delivery_tag":\s*"([^"]*)"/.exec(raw);
  return match?.[1] ?? '';
}

/**
 * The delivery tag exactly as the record scripts find it: the last `"delivery_tag": "` (or compact
 * `"delivery_tag":"`), plain finds, no pattern; '' when they would make one up.
 */
export function scriptTagOf(raw: string): string {
  const spaced = raw.lastIndexOf('"delivery_tag": "');
  const compact = raw.lastIndexOf('"delivery_tag":"');
  const start = Math.max(spaced === -1 ? -1 : spaced + 17, compact === -1 ? -1 : compact + 16);
  if (start === -1) return '';
  const end = raw.indexOf('"', start);
  return end > start ? raw.slice(start, end) : '';
}
