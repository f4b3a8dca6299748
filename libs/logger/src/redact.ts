// Userinfo of a URL of any scheme, up to the last "@" before the host: `scheme://user:secret@`.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#]*)@/gi;
// A password in a URL's query (`sentinel_password=...` as Celeriac folds sentinel_kwargs into a URL).
const QUERY_PASSWORD = /([?&][a-z_]*password=)[^&\s#;]*/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;
const TOKEN_ASSIGNMENT = /((?:token|password|passwd|secret)["']?\s*[:=]\s*["']?)[^"'\s,}&]+/gi;

/** Replaces the password of every URL in `text`, whatever the scheme (`amqp://u:pw@h` → `amqp://u:***@h`). */
export function redactUrl(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_match, scheme: string, user: string) => `${scheme}${user}:***@`)
    .replace(QUERY_PASSWORD, '$1***');
}

/** Masks every secret we know how to spot in free text: URL passwords, bearer tokens, token=... pairs. */
export function redactSecrets(text: string): string {
  return redactUrl(text).replace(BEARER, '$1***').replace(TOKEN_ASSIGNMENT, '$1***');
}
