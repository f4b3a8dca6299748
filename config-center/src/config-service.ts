import {
  contentHash,
  matchesSelector,
  mergeLayers,
  type NodeSelector,
  type RolloutPolicy,
  validateLayer,
} from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import { CenterState, type CommitResult, type NodeView, type WritePlan } from './center-state.js';
import { CenterError } from './errors.js';
import { type ImpactPreview, previewImpact } from './impact-preview.js';
import { jsonDiff } from './json-diff.js';
import type { LongPollHub } from './long-poll-hub.js';
import { planWaves } from './rollout/plan-waves.js';
import { type ResolvedRollout, resolveRollout } from './rollout/resolve-policy.js';
import type { ConfigStore } from './store/config-store.js';
import type { Author, NodeStatusRecord, Revision, RevisionKind } from './types.js';

/** One write of a layer. */
export interface WriteRequest {
  layer: string;
  kind: RevisionKind;
  /** The whole document (put, rollback) or a merge patch (patch). */
  body: unknown;
  /** From If-Match: the revision the writer based the change on (0 = the layer must not exist). */
  ifMatch: number | undefined;
  author: Author;
  message: string;
  restoredFrom?: number;
  /**
   * Roll the change out in waves with this policy (rollout/rollout-controller.ts); null: no
   * rollout even if a layer has a default one; absent: the nearest layer's default, if any.
   */
  rollout?: RolloutPolicy | null;
}

/** What a rollout controller does in the write and serve paths (rollout/rollout-controller.ts). */
export interface RolloutHook {
  /** Throws when the write may not go ahead now (a rollout is running). */
  checkWrite(request: WriteRequest): void;
  /**
   * After a revision is committed to the state (this replica's write, or one read from the store)
   * and before its nodes are woken; its `rollout` member says whether a rollout starts.
   */
  committed(revision: Revision, result: CommitResult): void;
  /** What the node is served: its view, or the one it keeps while a rollout holds it back. */
  served(node: string, view: NodeView): NodeView;
  /** The active rollout that decides what the node is served, if any. */
  placement(node: string): RolloutPlacement | null;
}

/** A node's place in the active rollout: its id, the node's wave (0-based), and whether it was served the revision. */
export interface RolloutPlacement {
  id: string;
  wave: number;
  served: boolean;
}

/** What a write did. */
export interface WriteOutcome {
  /** The new revision, or undefined when the document did not change. */
  revision: Revision | undefined;
  /** Revision of the layer's last change after the write. */
  layerRevision: number;
  document: Record<string, unknown>;
  created: boolean;
}

const MAX_WRITE_ATTEMPTS = 8;
/** A checkpoint of the state is written after this many revisions (and at close). */
const CHECKPOINT_EVERY = 500;

/**
 * The center's logic without HTTP: keeps the state in step with the store, validates and writes
 * layers (compare-and-append), and wakes the long-polls of exactly the nodes whose effective
 * config changed.
 */
export class ConfigService {
  readonly state = new CenterState();
  private readonly statusNodes = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private started = false;
  private closed = false;
  /** Revision of the last checkpoint written or restored. */
  private checkpointedHead = 0;
  /** Set by buildServer: the rollout controller. */
  rollouts: RolloutHook | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly hub: LongPollHub,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.store.start();
    for (const record of await this.store.listNodeStatuses()) this.statusNodes.add(record.node);
    await this.exclusive(async () => {
      await this.restoreCheckpoint();
      await this.catchUp();
    });
    this.store.onAppend((head) => {
      if (this.closed || (head >= 0 && head <= this.state.head)) return;
      this.exclusive(() => this.catchUp()).catch((error: unknown) =>
        this.logger.error({ event: 'center.sync_failed', err: error }, 'could not read new revisions from the store'),
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.close();
    await this.queue.catch(() => undefined);
    // The next start restores this instead of replaying the log.
    if (this.state.head !== this.checkpointedHead) await this.writeCheckpoint();
    await this.store.close();
  }

  /** Restores the store's checkpoint, if it has one that fits its log. */
  private async restoreCheckpoint(): Promise<void> {
    const checkpoint = await this.store.readCheckpoint?.();
    if (!checkpoint) return;
    const started = Date.now();
    const log = await this.store.readRevisions(0);
    if (this.state.restore(log, checkpoint)) {
      this.checkpointedHead = checkpoint.head;
      this.logger.info(
        {
          event: 'center.checkpoint_restored',
          head: checkpoint.head,
          replay: log.length - checkpoint.head,
          duration_ms: Date.now() - started,
        },
        `state restored at revision ${checkpoint.head}; replaying the ${log.length - checkpoint.head} after it`,
      );
    } else {
      this.logger.warn(
        { event: 'center.checkpoint_ignored', head: checkpoint.head, log_head: log.length },
        'the checkpoint does not match the revision log; replaying the whole log',
      );
    }
  }

  /** Writes a checkpoint when the store keeps one (the file store); a failure only costs a longer start. */
  private async writeCheckpoint(): Promise<void> {
    const checkpoint = this.state.checkpoint();
    if (!checkpoint || !this.store.writeCheckpoint) return;
    try {
      await this.store.writeCheckpoint(checkpoint);
      this.checkpointedHead = checkpoint.head;
    } catch (error) {
      this.logger.warn({ event: 'center.checkpoint_failed', err: error }, 'could not write the state checkpoint');
    }
  }

  /** Nodes known to the center: those with a layer and those that reported a status. */
  knownNodes(): string[] {
    return [...new Set([...this.state.layerNodes(), ...this.statusNodes])].sort();
  }

  /** Known nodes that `selector` selects by name, group or label (every known node without one). */
  selectNodes(selector: NodeSelector | undefined): string[] {
    const nodes = this.knownNodes();
    if (!selector) return nodes;
    return nodes.filter((node) =>
      matchesSelector(selector, { node, groups: this.state.groups(node), labels: this.state.labels(node) }),
    );
  }

  /** Validates and stores one layer write; throws 400/409/428 as `CenterError`. */
  write(request: WriteRequest): Promise<WriteOutcome> {
    return this.exclusive(async () => {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        await this.catchUp();
        const prepared = this.prepare(request);
        if (!prepared.plan) {
          return {
            revision: undefined,
            layerRevision: prepared.currentRevision,
            document: prepared.document,
            created: false,
          };
        }
        const { current, currentRevision, document, plan } = prepared;
        this.rollouts?.checkWrite(request);
        const draft: Omit<Revision, 'revision'> = {
          layer: request.layer,
          kind: request.kind,
          author: request.author,
          time: new Date().toISOString(),
          message: request.message,
          diff: jsonDiff(current?.document ?? {}, document),
          document,
        };
        if (request.restoredFrom !== undefined) draft.restored_from = request.restoredFrom;
        const rollout = this.rolloutOf(request, document);
        if (rollout.source !== 'none') draft.rollout = rollout;
        const result = await this.store.append(draft, {
          layerRevision: currentRevision,
          headRevision: this.state.head,
        });
        if (result.ok) {
          const committed = this.state.commit(result.revision, plan);
          this.rollouts?.committed(result.revision, committed);
          this.apply(result.revision, committed);
          await this.hub.answered();
          return { revision: result.revision, layerRevision: result.revision.revision, document, created: !current };
        }
        if (result.reason === 'layer_conflict') {
          await this.catchUp();
          throw this.conflict(request.layer, result.currentLayerRevision);
        }
      }
      throw new CenterError(
        'CENTER_CONFLICT',
        `${request.layer} was not changed: the store kept moving under heavy writing; retry`,
        {
          currentRevision: this.state.layer(request.layer)?.revision ?? 0,
        },
      );
    });
  }

  /**
   * What `request` would do, without writing it: the same checks as `write` (If-Match, validation
   * of the layer and of every affected node's merged config, the same errors), and the impact on
   * every node and program (`previewImpact`).
   */
  preview(request: WriteRequest): Promise<ImpactPreview> {
    return this.exclusive(async () => {
      await this.catchUp();
      const prepared = this.prepare(request);
      const preview = previewImpact({
        state: this.state,
        layer: request.layer,
        kind: request.kind,
        baseRevision: prepared.currentRevision,
        before: prepared.current?.document,
        after: prepared.document,
        plan: prepared.plan,
        knownNodes: this.knownNodes(),
      });
      const rollout = this.rolloutOf(request, prepared.document);
      preview.rollout = { source: rollout.source };
      if (rollout.layer !== undefined) preview.rollout.layer = rollout.layer;
      if (rollout.policy) {
        preview.rollout.policy = rollout.policy;
        const selectable = preview.nodes.map(({ node }) => ({
          node,
          groups: this.state.groups(node),
          labels: this.state.labels(node),
        }));
        preview.rollout.waves = planWaves(rollout.policy, selectable).map(({ nodes, soak_ms }) => ({ nodes, soak_ms }));
      }
      return preview;
    });
  }

  /** The rollout policy `request` gets (its own, the nearest layer's default, or none) with `document` written. */
  private rolloutOf(request: WriteRequest, document: Record<string, unknown>): ResolvedRollout {
    return resolveRollout(request.layer, request.rollout, request.kind === 'rollback', (name) =>
      name === request.layer ? document : this.state.layer(name)?.document,
    );
  }

  /** The checks of a write against the current state; `plan` is undefined when nothing would change. */
  private prepare(request: WriteRequest): {
    current: { revision: number; document: Record<string, unknown> } | undefined;
    currentRevision: number;
    document: Record<string, unknown>;
    plan: WritePlan | undefined;
  } {
    const current = this.state.layer(request.layer);
    const currentRevision = current?.revision ?? 0;
    if (request.ifMatch === undefined && current && request.kind !== 'rollback') {
      throw new CenterError(
        'CENTER_PRECONDITION_REQUIRED',
        `${request.layer} exists; send "If-Match: ${currentRevision}" (the revision you based the change on) so that ` +
          'a change made meanwhile is not overwritten',
        { currentRevision },
      );
    }
    if (request.ifMatch !== undefined && request.ifMatch !== currentRevision)
      throw this.conflict(request.layer, currentRevision);
    const next = request.kind === 'patch' ? mergeLayers(current?.document ?? {}, request.body) : request.body;
    const validated = validateLayer(request.layer, next);
    if (!validated.ok) {
      throw new CenterError(
        'CENTER_VALIDATION_FAILED',
        `${request.layer} was not changed: ${describeIssues(validated.issues.length)}`,
        {
          issues: validated.issues,
        },
      );
    }
    const document = validated.value as Record<string, unknown>;
    if (current && contentHash(document) === contentHash(current.document)) {
      return { current, currentRevision, document: current.document, plan: undefined };
    }
    const { plan, issues } = this.state.plan(request.layer, document, this.statusNodes);
    if (issues.length > 0) {
      throw new CenterError(
        'CENTER_VALIDATION_FAILED',
        `${request.layer} was not changed: the merged config of an affected node would be invalid; ${describeIssues(issues.length)}`,
        { issues },
      );
    }
    return { current, currentRevision, document, plan };
  }

  /** What the node is served now: its effective config, unless a rollout holds it at an earlier one. */
  servedView(node: string): NodeView {
    const view = this.state.view(node);
    return this.rollouts ? this.rollouts.served(node, view) : view;
  }

  /** The active rollout that decides what the node is served, or null when none does. */
  rolloutPlacement(node: string): RolloutPlacement | null {
    return this.rollouts ? this.rollouts.placement(node) : null;
  }

  /** Records an agent's status report. */
  async reportStatus(node: string, status: Record<string, unknown>): Promise<NodeStatusRecord> {
    const record: NodeStatusRecord = { node, received_at: new Date().toISOString(), status };
    await this.store.putNodeStatus(record);
    this.statusNodes.add(node);
    return record;
  }

  /** Every stored status, keyed by node (also those reported through another replica). */
  async statuses(): Promise<Map<string, NodeStatusRecord>> {
    const records = await this.store.listNodeStatuses();
    for (const record of records) this.statusNodes.add(record.node);
    return new Map(records.map((r) => [r.node, r]));
  }

  private conflict(layer: string, currentRevision: number): CenterError {
    return new CenterError(
      'CENTER_CONFLICT',
      currentRevision === 0
        ? `${layer} does not exist (it was based on a revision that is gone); create it with "If-Match: 0" or no If-Match`
        : `${layer} changed since your revision; it is now at revision ${currentRevision}: fetch it, redo your change and send "If-Match: ${currentRevision}"`,
      { currentRevision },
    );
  }

  /** Reads revisions other writers appended and applies them in order. */
  private async catchUp(): Promise<void> {
    const revisions = await this.store.readRevisions(this.state.head);
    for (const revision of revisions) {
      if (revision.revision <= this.state.head) continue;
      const committed = this.state.commit(revision);
      // Another replica's write: a rollout it starts must hold this replica's nodes too.
      this.rollouts?.committed(revision, committed);
      this.apply(revision, committed);
    }
  }

  private apply(revision: Revision, result: CommitResult): void {
    for (const node of result.changedNodes) this.hub.wake(node);
    if (this.state.head - this.checkpointedHead >= CHECKPOINT_EVERY) {
      this.checkpointedHead = this.state.head;
      void this.writeCheckpoint();
    }
    if (result.baselineChanged) {
      for (const node of this.hub.waitingNodes()) if (!this.state.hasNodeLayer(node)) this.hub.wake(node);
    }
    this.logger.debug(
      {
        event: 'center.revision_applied',
        revision: revision.revision,
        layer: revision.layer,
        nodes: result.changedNodes.length,
      },
      'revision applied',
    );
  }

  private exclusive<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function describeIssues(count: number): string {
  return count === 1 ? '1 problem, listed in "issues"' : `${count} problems, listed in "issues"`;
}
