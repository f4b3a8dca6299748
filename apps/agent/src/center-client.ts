import { tlsTrustProblem } from '@celeriac/common';
import type { NodeStatus } from '@celeriac/config-schema';
import { redactUrl } from '@celeriac/logger';
import { CenterRejectedError, CenterUnreachableError } from './errors.js';
import { requestJson } from './http-json.js';

/** What `GET /v1/nodes/<node>/config` answers when the config changed. */
export interface ServedConfig {
  node: string;
  revision: number;
  hash: string;
  config: unknown;
}

/** Options of a center client for one node. */
export interface CenterClientOptions {
  baseUrl: string;
  node: string;
  token: string;
  /** Extra time over the long-poll wait before a request counts as lost. */
  graceMs?: number;
  /** PEM CAs that an https:// center's certificate must chain to; the system CAs when absent. */
  ca?: string | Buffer;
  /** Where `ca` came from, for messages (e.g. `--ca-file /etc/celeriac/ca.pem`). */
  caSource?: string;
}

/** Where status reports go (a `CenterClient`); rejects with `CenterRejectedError` or `CenterUnreachableError`. */
export interface StatusSender {
  postStatus(status: NodeStatus, timeoutMs?: number, signal?: AbortSignal): Promise<void>;
}

/** The center's HTTP API as an agent uses it: its node's config (long-poll) and its status. */
export class CenterClient implements StatusSender {
  private readonly base: URL;
  private readonly graceMs: number;

  constructor(private readonly options: CenterClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.graceMs = options.graceMs ?? 10_000;
  }

  /** The center URL with any password masked, for logs. */
  get safeUrl(): string {
    return redactUrl(this.base.toString());
  }

  /**
   * Asks for the node's effective config newer than `after` (null: whatever is current), holding
   * up to `waitSec`. Resolves null when nothing changed (304).
   */
  async fetchConfig(after: number | null, waitSec: number, signal?: AbortSignal): Promise<ServedConfig | null> {
    const url = new URL(`v1/nodes/${encodeURIComponent(this.options.node)}/config`, this.base);
    if (after !== null) url.searchParams.set('after', String(after));
    url.searchParams.set('wait', String(waitSec));
    const res = await this.request('GET', url, undefined, waitSec * 1000 + this.graceMs, signal);
    if (res.status === 304) return null;
    const body = res.body as Partial<ServedConfig> | undefined;
    if (!body || typeof body.revision !== 'number' || typeof body.hash !== 'string' || !('config' in body)) {
      throw new CenterUnreachableError(
        `the center at ${this.safeUrl} answered the config request without revision, hash and config; is it a Celeriac center?`,
      );
    }
    return {
      node: String(body.node ?? this.options.node),
      revision: body.revision,
      hash: body.hash,
      config: body.config,
    };
  }

  /** Posts the node's status. */
  async postStatus(status: NodeStatus, timeoutMs = 5000, signal?: AbortSignal): Promise<void> {
    const url = new URL(`v1/nodes/${encodeURIComponent(this.options.node)}/status`, this.base);
    await this.request('POST', url, status, timeoutMs, signal);
  }

  private async request(method: string, url: URL, body: unknown, timeoutMs: number, signal?: AbortSignal) {
    let res: Awaited<ReturnType<typeof requestJson>>;
    try {
      res = await requestJson(method, url, {
        headers: { authorization: `Bearer ${this.options.token}` },
        body,
        timeoutMs,
        ...(signal ? { signal } : {}),
        ...(this.options.ca === undefined ? {} : { ca: this.options.ca }),
      });
    } catch (error) {
      const tls = tlsTrustProblem(
        error,
        this.options.ca === undefined ? undefined : (this.options.caSource ?? 'the CA file given'),
      );
      throw new CenterUnreachableError(
        tls
          ? `cannot talk to the center at ${this.safeUrl}: ${tls}`
          : `cannot reach the center at ${this.safeUrl} (${(error as Error).message}); is it running and is --center right?`,
        { cause: error },
      );
    }
    if (res.status >= 500) {
      throw new CenterUnreachableError(
        `the center at ${this.safeUrl} answered ${res.status} to ${method} ${url.pathname}; see the center's log`,
        { status: res.status },
      );
    }
    if (res.status >= 400) {
      const detail = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      const hint =
        res.status === 401
          ? 'check --token'
          : res.status === 403
            ? `the token is not allowed for node ${this.options.node}; use an agent token bound to it`
            : 'see the message';
      throw new CenterRejectedError(
        res.status,
        `the center refused ${method} ${url.pathname} with ${res.status} ${detail?.code ?? ''}: ${detail?.message ?? 'no message'} (${hint})`,
      );
    }
    return res;
  }
}
