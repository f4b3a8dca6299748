const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^@/\s]+)@/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;
const TOKEN_ASSIGNMENT = /((?:token|password|secret)["']?\s*[:=]\s*["']?)[^"'\s,}]+/gi;

/** Replaces the password of a URL (`redis://:pw@host` → `redis://:***@host`). */
export function redactUrl(url: string): string {
  return url.replace(URL_CREDENTIALS, '$1$2:***@');
}

/** Masks every secret we know how to spot in free text: URL passwords, bearer tokens, token=... pairs. */
export function redactSecrets(text: string): string {
  return redactUrl(text).replace(BEARER, '$1***').replace(TOKEN_ASSIGNMENT, '$1***');
}
