import { requestText } from '@celeriac/common';

/** A JSON answer of the center. */
export interface ApiResponse {
  status: number;
  body: unknown;
  etag: string | null;
}

/** The center's HTTP API as tests drive it (real HTTP, real center; HTTPS verified against `ca`). */
export class CenterApi {
  constructor(
    readonly url: string,
    readonly token: string,
    /** PEM CA of an https:// center. */
    readonly ca?: Buffer,
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> {
    const all: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let status: number;
    let text: string;
    let etag: string | null;
    if (this.ca) {
      // fetch takes no CA of its own: node's https request does.
      const res = await requestText(new URL(`${this.url}${path}`), {
        method,
        headers: all,
        timeoutMs: 30_000,
        ca: this.ca,
        ...(payload === undefined ? {} : { body: payload }),
      });
      [status, text] = [res.status, res.text];
      etag = typeof res.headers.etag === 'string' ? res.headers.etag : null;
    } else {
      const res = await fetch(`${this.url}${path}`, { method, headers: all, body: payload });
      [status, text, etag] = [res.status, await res.text(), res.headers.get('etag')];
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status, body: parsed, etag };
  }

  /** Creates a token and returns its secret. */
  async createToken(role: 'admin' | 'operator' | 'viewer' | 'agent', node?: string): Promise<string> {
    const res = await this.request('POST', '/v1/tokens', { role, node, name: `${role}-${node ?? 'all'}` });
    if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { token: string }).token;
  }

  /** Replaces a layer (If-Match its current revision when it exists); resolves with the response. */
  async putLayer(layer: string, doc: unknown, message = 'test'): Promise<ApiResponse> {
    const current = await this.request('GET', `/v1/layers/${layer}`);
    const headers: Record<string, string> = { 'x-change-message': message };
    if (current.status === 200 && current.etag) headers['if-match'] = current.etag;
    return this.request('PUT', `/v1/layers/${layer}`, doc, headers);
  }

  /** `GET /v1/nodes/<node>`: desired vs applied revision, apply result, programs. */
  async node(node: string): Promise<NodeSummary> {
    const res = await this.request('GET', `/v1/nodes/${node}`);
    if (res.status !== 200) throw new Error(`GET /v1/nodes/${node}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as NodeSummary;
  }
}

/** The part of a node summary tests look at. */
export interface NodeSummary {
  node: string;
  /** What the node is served (behind `latest_revision` while a rollout holds it back). */
  desired_revision: number;
  desired_hash: string;
  latest_revision?: number;
  rollout?: { id: string; wave: number; served: boolean } | null;
  applied_revision: number | null;
  attempted_revision: number | null;
  apply_result: string | null;
  message: string | null;
  drift: boolean;
  state: string;
  last_seen: string | null;
  programs: Record<string, { state: string; pids: number[]; restarts: number; config_hash: string }>;
}

/** Polls `check` until it returns a value that is not undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) {
      throw new Error(`${what} not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
