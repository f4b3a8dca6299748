/**
 * kombu's `Node.handle_message` filter: a request runs on a node when `destination` lists it, or,
 * without a destination, when `pattern` matches with `matcher` (`glob` = fnmatch, `pcre` = re.match),
 * or when neither is given. An unknown matcher raises in kombu (no reply): here it is `'bad_matcher'`.
 */
export function pidboxMatch(
  hostname: string,
  request: { destination?: unknown; pattern?: unknown; matcher?: unknown },
): boolean | 'bad_matcher' {
  const { destination, pattern, matcher } = request;
  if (Array.isArray(destination) && destination.length > 0) return destination.includes(hostname);
  if (typeof destination === 'string' && destination !== '') return destination === hostname;
  if (typeof pattern === 'string' && pattern !== '' && typeof matcher === 'string' && matcher !== '') {
    const re = matcherRegExp(pattern, matcher);
    return re === undefined ? 'bad_matcher' : re.test(hostname);
  }
  return true;
}

function matcherRegExp(pattern: string, matcher: string): RegExp | undefined {
  try {
    if (matcher === 'glob') return new RegExp(`^${fnmatchTranslate(pattern)}$`, 's');
    if (matcher === 'pcre') return new RegExp(`^(?:${pattern})`);
  } catch {
    return undefined;
  }
  return undefined;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** Python's `fnmatch.translate` without the anchors: `*`, `?`, `[seq]`, `[!seq]`. */
export function fnmatchTranslate(pattern: string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i++]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) out += '\\[';
      else {
        let body = pattern.slice(i, j).replace(/\\/g, '\\\\');
        i = j + 1;
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        else if (body.startsWith('^')) body = `\\${body}`;
        out += `[${body}]`;
      }
    } else out += escapeRe(c);
  }
  return out;
}
