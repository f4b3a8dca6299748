import http from 'node:http';
import https from 'node:https';

/** One HTTP(S) request: method, headers, body, time limit, and for https the CAs to trust. */
export interface HttpRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
  /** PEM CA certificates that sign the server's certificate; the system CAs when absent. */
  ca?: string | Buffer;
}

/** A whole response: status, headers and the body as text. */
export interface HttpTextResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One request on a fresh connection (no shared keep-alive pool, so a closing program leaves no
 * sockets behind). Rejects on network and TLS errors (see `tlsTrustProblem`), on `timeoutMs`
 * and when `signal` aborts.
 */
export function requestText(url: URL, options: HttpRequestOptions): Promise<HttpTextResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const request = (secure ? https : http).request(
      url,
      {
        method: options.method,
        agent: false,
        headers,
        timeout: options.timeoutMs,
        signal: options.signal,
        ...(secure && options.ca !== undefined ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.on('timeout', () => {
      const error = new Error(`no answer within ${options.timeoutMs} ms`) as NodeJS.ErrnoException;
      error.code = 'ETIMEDOUT';
      request.destroy(error);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * What is wrong with the server's TLS certificate, in words an operator can act on, when `error`
 * is a certificate or TLS handshake failure; undefined for other errors. `trust` names the CAs in
 * use, e.g. `--ca-file /etc/celeriac/ca.pem` or undefined for the system CAs.
 */
export function tlsTrustProblem(error: unknown, trust: string | undefined): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = (error as Error | undefined)?.message ?? String(error);
  if (code === undefined) return undefined;
  const hint = trust
    ? `it is not signed by a CA in ${trust}; give the CA that signed the center's certificate`
    : 'it is not signed by any of the system CAs; give the CA that signed it with --ca-file (or CELERIAC_CA_FILE)';
  if (UNTRUSTED.has(code)) return `the center's TLS certificate is not trusted (${code}: ${reason}): ${hint}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the center's TLS certificate is not valid for this address (${reason}): connect with a host name or IP address that the certificate lists, or reissue it`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `the center's TLS certificate is outside its validity period (${code}): renew it`;
  }
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(reason)) {
    return `the TLS handshake failed (${reason}): is the center serving https:// at this address, or plain http://?`;
  }
  return undefined;
}
