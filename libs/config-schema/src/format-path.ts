const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renders a path: identifiers joined with ".", other keys as ["key"], list positions as [n]. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}
