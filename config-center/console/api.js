// The session and the center's API, as the console's views use them.

/** The signed-in token and who it is (GET /v1/whoami), or nulls. */
export const session = { token: null, who: null, onUnauthorized: (_reason) => {} };

/** An error answer of the center (or no answer at all), with its code, field issues and current revision. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `the center answered HTTP ${status}`);
    this.status = status;
    this.code = error.code || `CONSOLE_HTTP_${status}`;
    this.issues = Array.isArray(error.issues) ? error.issues : [];
    this.currentRevision = typeof error.current_revision === 'number' ? error.current_revision : null;
  }
}

/** Calls the center's API with the session's bearer token; throws ApiError on any failure. */
export async function api(method, path, options) {
  const opts = options || {};
  const headers = Object.assign({ accept: 'application/json', authorization: `Bearer ${session.token}` }, opts.headers);
  const init = { method, headers, cache: 'no-store' };
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, {
      code: 'CONSOLE_UNREACHABLE',
      message: `the center did not answer (${error.message}); check that it is running and reload the page`,
    });
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      body?.error ? body.error : { message: text.slice(0, 300) || response.statusText },
    );
  }
  return body;
}

/** "CODE: message" for an API error, the message for anything else. */
export function describe(error) {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : String(error?.message || error);
}

const errorBox = () => document.getElementById('error');

export function showError(error) {
  errorBox().textContent = describe(error);
}

export function clearError() {
  errorBox().textContent = '';
}

/** Shows an error; a refused token ends the session. */
export function handleError(error) {
  if (error instanceof ApiError && error.status === 401 && session.token) {
    session.onUnauthorized(`Signed out: ${describe(error)}`);
    return;
  }
  showError(error);
}
