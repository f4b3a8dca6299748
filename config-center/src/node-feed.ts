import type { NodeSelector, NodeSummary } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { ConfigService } from './config-service.js';
import { servedPlacement, summarizeNode } from './node-summary.js';
import { maskSecrets } from './secret-mask.js';
import type { NodeStatusRecord } from './types.js';

/** What the node list reads of the center. */
export type NodeListSource = Pick<
  ConfigService,
  'state' | 'statuses' | 'selectNodes' | 'servedView' | 'rolloutPlacement'
>;

/**
 * The nodes of GET /v1/nodes: the summaries of the nodes `selector` selects, from `statuses`
 * (`service.statuses()`, read first: it also makes the nodes that reported through another
 * replica known).
 */
export function nodeSummaries(
  service: NodeListSource,
  selector: NodeSelector | undefined,
  statuses: ReadonlyMap<string, NodeStatusRecord>,
  fallbackStaleAfterMs: number,
  now: number,
): NodeSummary[] {
  return service
    .selectNodes(selector)
    .map((node) =>
      summarizeNode(service.state, node, statuses.get(node), fallbackStaleAfterMs, now, servedPlacement(service, node)),
    );
}

/** Which list a stream follows: its selector (as given, for the key) and whether secrets are masked. */
export interface NodeSelection {
  /** The `selector` query parameter as given ('' without one): streams with the same text share one list. */
  selectorText: string;
  selector: NodeSelector | undefined;
  masked: boolean;
}

/**
 * The events of a node stream: `nodes`, the whole list as GET /v1/nodes answers it (`{nodes}`), at
 * once; then `nodes_changed`, `{changed, removed}`: the summaries that differ from the last event
 * (new nodes included) and the names of the nodes no longer listed. The client keeps the list.
 */
export type NodeFeedEvent = 'nodes' | 'nodes_changed';

/** Called with an event and its JSON. */
export type NodeFeedListener = (event: NodeFeedEvent, json: string) => void;

/** Options of a node feed. */
export interface NodeFeedOptions {
  /** The stale delay of agents that announce no heartbeat (RouteContext.staleAfterMs). */
  fallbackStaleAfterMs: number;
  logger: Logger;
  /** The list is rebuilt this often while anyone listens, for staleness and other replicas' reports; default 1000 ms. */
  checkMs?: number;
  /**
   * Changes seen here (a report, a new revision) are sent at most this often: a burst of reports is
   * one send per stream; default 500 ms.
   */
  coalesceMs?: number;
}

interface SelectionGroup {
  selection: NodeSelection;
  /** Each listed node's summary as JSON, in the list's order: what the listeners have now. */
  entries: Map<string, string>;
  /** `{nodes}` of the entries, built when a stream joins and kept until they change. */
  full: string | undefined;
  listeners: Set<NodeFeedListener>;
}

/**
 * The node list as a feed for GET /v1/nodes/stream. Streams of the same selection and masking share
 * one group: its list is built and serialised once per check, node by node, and what changed is
 * sent as one `nodes_changed` text to all of them (a fleet of thousands sends a few summaries per
 * turn, not megabytes per stream).
 * While anyone listens it checks every `checkMs` (a node turns stale with time alone; with the Redis
 * store, reports through other replicas and the rollout's placement are only seen by reading them)
 * and, at most every `coalesceMs`, after `poke` (a report through this replica) or a new revision.
 * Each check reads the statuses once, as one GET /v1/nodes does, for every group.
 */
export class NodeFeed {
  private readonly groups = new Map<string, SelectionGroup>();
  private readonly checkMs: number;
  private readonly coalesceMs: number;
  private timer: NodeJS.Timeout | undefined;
  private poked = false;
  /** A turn is queued right after a poke. */
  private soon = false;
  private checking = false;
  private lastCheckAt = 0;
  private lastHead = -1;
  private failing = false;

  constructor(
    private readonly source: NodeListSource,
    private readonly options: NodeFeedOptions,
  ) {
    this.checkMs = options.checkMs ?? 1000;
    this.coalesceMs = options.coalesceMs ?? 500;
  }

  /** Open groups (distinct selections followed). */
  get size(): number {
    return this.groups.size;
  }

  /**
   * Calls `listener` with the selection's list at once (before resolving), then after each change,
   * until the returned function is called. Rejects, having called nothing, when the statuses cannot
   * be read.
   */
  async subscribe(selection: NodeSelection, listener: NodeFeedListener): Promise<() => void> {
    const key = `${selection.masked ? 'masked' : 'plain'} ${selection.selectorText}`;
    let group = this.groups.get(key);
    if (!group) {
      const statuses = await this.source.statuses();
      const entries = this.entriesOf(selection, statuses, Date.now(), new Map());
      // Another stream of this selection may have made the group meanwhile: join it.
      group = this.groups.get(key);
      if (!group) {
        group = { selection, entries, full: undefined, listeners: new Set() };
        this.groups.set(key, group);
      }
    }
    const joined = group;
    joined.full ??= `{"nodes":[${[...joined.entries.values()].join(',')}]}`;
    joined.listeners.add(listener);
    this.startTimer();
    listener('nodes', joined.full);
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.groups.get(key) === joined) {
        this.groups.delete(key);
        if (this.groups.size === 0) this.stopTimer();
      }
    };
  }

  /**
   * Something changed here (a status report): look again now when the last check is `coalesceMs`
   * old, else at the next turn (a burst of reports is one check).
   */
  poke(): void {
    if (this.groups.size === 0) return;
    this.poked = true;
    if (this.soon || this.checking || Date.now() - this.lastCheckAt < this.coalesceMs) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      void this.turn();
    });
  }

  /** Stops the checks and forgets every listener. */
  close(): void {
    this.groups.clear();
    this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    this.lastCheckAt = Date.now();
    this.lastHead = this.source.state.head;
    // Twice per coalesceMs, so that a change waits at most 1.5 coalesceMs after the last check.
    this.timer = setInterval(() => void this.turn(), this.coalesceMs / 2);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.poked = false;
  }

  /**
   * One turn of the timer or of a poke: checks at most once per `coalesceMs` when poked or after a
   * new revision, else once `checkMs` passed.
   */
  private async turn(): Promise<void> {
    if (this.checking || this.groups.size === 0) return;
    const started = Date.now();
    const sinceLast = started - this.lastCheckAt;
    const head = this.source.state.head;
    const changed = this.poked || head !== this.lastHead;
    if (sinceLast < (changed ? this.coalesceMs : this.checkMs)) return;
    this.checking = true;
    this.poked = false;
    this.lastHead = head;
    this.lastCheckAt = started;
    // Groups made during the read built their list after it: only these get this check's lists.
    const groups = [...this.groups.values()];
    try {
      const statuses = await this.source.statuses();
      const now = Date.now();
      const summaries = new Map<string, NodeSummary[]>();
      for (const group of groups) {
        if (group.listeners.size === 0) continue;
        const entries = this.entriesOf(group.selection, statuses, now, summaries);
        const changed: string[] = [];
        for (const [node, json] of entries) if (group.entries.get(node) !== json) changed.push(json);
        const removed = [...group.entries.keys()].filter((node) => !entries.has(node));
        if (changed.length === 0 && removed.length === 0) continue;
        group.entries = entries;
        group.full = undefined;
        const json = `{"changed":[${changed.join(',')}],"removed":${JSON.stringify(removed)}}`;
        for (const listener of [...group.listeners]) listener('nodes_changed', json);
      }
      if (this.failing) {
        this.failing = false;
        this.options.logger.info({ event: 'center.node_stream_recovered' }, 'node streams read the statuses again');
      }
    } catch (error) {
      // Logged once per outage; the streams stay open (kept alive) and catch up when the store answers.
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn(
          { event: 'center.node_stream_failed', err: error },
          'node streams could not read the statuses; they send again when the store answers',
        );
      }
    } finally {
      this.checking = false;
    }
  }

  /** The selection's summaries as JSON by node; the masked and plain groups of one selector share the summaries. */
  private entriesOf(
    selection: NodeSelection,
    statuses: ReadonlyMap<string, NodeStatusRecord>,
    now: number,
    summaries: Map<string, NodeSummary[]>,
  ): Map<string, string> {
    let nodes = summaries.get(selection.selectorText);
    if (!nodes) {
      nodes = nodeSummaries(this.source, selection.selector, statuses, this.options.fallbackStaleAfterMs, now);
      summaries.set(selection.selectorText, nodes);
    }
    return new Map(
      nodes.map((summary) => [summary.node, JSON.stringify(selection.masked ? maskSecrets(summary) : summary)]),
    );
  }
}
