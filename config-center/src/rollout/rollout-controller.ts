import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CenterErrorCode, RolloutPolicy } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { CommitResult, NodeView } from '../center-state.js';
import type { ConfigService, RolloutHook, RolloutPlacement, WriteRequest } from '../config-service.js';
import { CenterError } from '../errors.js';
import type { Revision } from '../types.js';
import { newRolloutRecord } from './new-rollout-record.js';
import { rollBackRollout } from './roll-back-rollout.js';
import { type RolloutCommand, refuseCommand } from './rollout-command.js';
import { recordEvent } from './rollout-event.js';
import { RolloutLease } from './rollout-lease.js';
import { isActive, type RolloutEvent, type RolloutRecord } from './rollout-record.js';
import type { RolloutStepContext } from './rollout-step-context.js';
import type { QueuedRolloutCommand, RolloutStore } from './rollout-store.js';
import { stepRollout } from './step-rollout.js';

/** Options of the controller. */
export interface RolloutControllerOptions {
  service: ConfigService;
  store: RolloutStore;
  logger: Logger;
  /** Wakes a node's held long-polls (LongPollHub.wake). */
  wake: (node: string) => void;
  /** How often gates are evaluated; default 1 s. */
  tickMs?: number;
  /**
   * With a shared store: how long the lease of the replica driving rollouts lasts without renewal
   * (renewed every third of it), so how soon another replica takes over a dead one. Default 10 s.
   */
  leaseMs?: number;
}

/**
 * Runs rollouts in the center: a write with a policy starts one; each node of the change is served
 * the new revision only once its wave admits it (the others keep their effective config of the
 * revision before), and every tick holds the wave to its gates, promotes it, finishes, or rolls
 * the changed nodes back with a new revision (`stepRollout`). One rollout at a time: other writes
 * are refused while it runs. State is saved in `store` on every transition.
 *
 * With a shared store (several replicas on one Redis) exactly one replica drives: the holder of the
 * store's lease. Every replica learns a rollout from the revision itself (its `rollout` member), so
 * it holds the rollout's nodes from the moment it applies the revision, and then follows the
 * driver's saved records to serve each node what its wave allows. Operator commands received by
 * another replica are queued for the driver. A replica that stops renewing the lease (killed,
 * partitioned) is replaced by another within the lease time, which resumes from the saved records.
 */
export class RolloutController implements RolloutHook {
  private records: RolloutRecord[] = [];
  /** The rollout that decides what its nodes are served (running, paused or rolling back), and the nodes it served. */
  private activeRecord: RolloutRecord | undefined;
  private activeServed = new Set<string>();
  /** The wave (0-based) of each node of the active rollout. */
  private activeWaves = new Map<string, number>();
  private readonly pinned = new Map<string, NodeView>();
  private readonly lease: RolloutLease;
  private knownVersion = -1;
  /** The last rollout a revision replayed before `start` announced (adopted if no record has it). */
  private candidate: RolloutRecord | undefined;
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private tickAgain = false;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;
  /** What stepping a record (step-rollout.ts, roll-back-rollout.ts) uses of this controller. */
  private readonly stepContext: RolloutStepContext;

  constructor(private readonly options: RolloutControllerOptions) {
    this.lease = new RolloutLease(options.store, options.logger, options.leaseMs ?? 10_000, () => {
      this.knownVersion = -1;
    });
    this.stepContext = {
      service: options.service,
      logger: options.logger,
      reindex: () => this.reindex(),
      save: () => this.save(),
    };
  }

  private get store(): RolloutStore {
    return this.options.store;
  }

  /** Loads saved rollouts (an interrupted one resumes where it was) and starts evaluating. */
  async start(): Promise<void> {
    this.knownVersion = await this.store.version();
    this.records = await this.store.load();
    this.started = true;
    const candidate = this.candidate;
    this.candidate = undefined;
    // A revision with a policy whose record was never saved (the center stopped in between).
    if (
      candidate &&
      !this.records.some((r) => r.id === candidate.id) &&
      candidate.revision === this.options.service.state.head
    ) {
      this.event(candidate, 'started', 'from its revision at start: its record had not been saved');
      this.records.push(candidate);
    }
    this.reindex();
    if (!this.store.shared) {
      this.lease.lead();
      if (candidate && this.records.includes(candidate)) this.save();
    } else {
      this.store.onChange(() => void this.tick());
      await this.renewLease();
      this.leaseTimer = setInterval(() => void this.renewLease(), Math.max(100, Math.floor(this.lease.ms / 3)));
      this.leaseTimer.unref();
    }
    const active = this.active();
    if (active && this.lease.held)
      this.options.logger.info(
        { event: 'center.rollout_resumed', rollout: active.id, wave: active.wave, state: active.state },
        `rollout ${active.id} resumed at wave ${active.wave + 1} of ${active.waves.length}`,
      );
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 1000);
    this.timer.unref();
  }

  /** Stops evaluating; waits for a running tick and the last save; gives the lease up. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await this.ticking;
    await this.saving;
    if (this.store.shared) await this.lease.release();
  }

  /** True while this replica drives rollouts (always with a store of one process). */
  get driving(): boolean {
    return this.lease.held;
  }

  /** Every rollout, newest first. */
  list(): RolloutRecord[] {
    return [...this.records].reverse();
  }

  /** One rollout by id. */
  get(id: string): RolloutRecord {
    const record = this.records.find((r) => r.id === id);
    if (!record) throw new CenterError('CENTER_NOT_FOUND', `there is no rollout ${id}; GET /v1/rollouts lists them`);
    return record;
  }

  private active(): RolloutRecord | undefined {
    return this.records.find((record) => isActive(record) || record.state === 'rolling_back');
  }

  checkWrite(request: WriteRequest): void {
    const active = this.records.find(isActive);
    if (!active) return;
    throw new CenterError(
      'CENTER_CONFLICT',
      `${request.layer} was not changed: rollout ${active.id} of revision ${active.revision} is ${active.state}; ` +
        `promote it, wait for it to finish, or abort it (celeriac rollout abort ${active.id}) before writing again`,
      { currentRevision: active.revision },
    );
  }

  committed(revision: Revision, result: CommitResult): void {
    const policy = revision.rollout?.policy as RolloutPolicy | undefined;
    if (!policy) return;
    const id = `r${revision.revision}`;
    if (this.records.some((record) => record.id === id)) return;
    const record = newRolloutRecord(id, revision, policy, result, this.options.service);
    if (!record) return;
    if (!this.started) {
      // Replaying the log before start: the saved records decide which of these still matter.
      this.candidate = record;
      return;
    }
    this.event(record, 'started', `${Object.keys(record.prior).length} node(s) in ${record.waves.length} wave(s)`);
    this.records.push(record);
    this.reindex();
    // Another replica holds the same record from the same revision until the driver's is read.
    if (!this.lease.held) return;
    this.save();
    // Serve the first wave as soon as the budget allows, not a tick later.
    queueMicrotask(() => void this.tick());
  }

  served(node: string, view: NodeView): NodeView {
    const record = this.activeRecord;
    if (!record || !Object.hasOwn(record.prior, node) || this.activeServed.has(node)) return view;
    let held = this.pinned.get(node);
    if (!held) {
      held = {
        ...this.options.service.state.effectiveAt(node, record.revision - 1),
        revision: record.prior[node] as number,
        history: [],
      };
      this.pinned.set(node, held);
    }
    return held;
  }

  placement(node: string): RolloutPlacement | null {
    const record = this.activeRecord;
    if (!record || !Object.hasOwn(record.prior, node)) return null;
    return { id: record.id, wave: this.activeWaves.get(node) ?? 0, served: this.activeServed.has(node) };
  }

  /**
   * Recomputes what the active rollout serves after its records changed, and wakes the long-polls
   * of the nodes it no longer holds (newly served, or the rollout ended).
   */
  private reindex(): void {
    const before = this.activeRecord;
    const heldBefore = before ? this.heldNodes(before, this.activeServed) : [];
    // A rollout being rolled back still holds its nodes until its rollback revision is written.
    const record = this.active();
    this.activeRecord = record;
    this.activeServed = new Set(record?.served ?? []);
    if (before?.id !== record?.id) this.pinned.clear();
    if (before !== record)
      this.activeWaves = new Map(record?.waves.flatMap((wave, index) => wave.nodes.map((node) => [node, index])));
    const stillHeld = new Set(record ? this.heldNodes(record, this.activeServed) : []);
    for (const node of heldBefore) if (!stillHeld.has(node)) this.options.wake(node);
  }

  private heldNodes(record: RolloutRecord, served: ReadonlySet<string>): string[] {
    return Object.keys(record.prior).filter((node) => !served.has(node));
  }

  /**
   * An operator's request; throws CENTER_CONFLICT when the rollout is not in a state that takes it.
   * On a replica that does not drive rollouts it is queued for the one that does, and answered
   * with its outcome.
   */
  async command(id: string, command: RolloutCommand, by: string): Promise<RolloutRecord> {
    if (this.lease.held) {
      const record = await this.apply(id, command, by);
      await this.tick();
      return record;
    }
    const refused = refuseCommand(this.get(id), command);
    if (refused) throw refused;
    const queued: QueuedRolloutCommand = { id: randomUUID(), rollout: id, command, by };
    await this.store.queueCommand(queued);
    const deadline = Date.now() + 2 * this.lease.ms + 5000;
    while (Date.now() < deadline && !this.closed) {
      const result = await this.store.takeResult(queued.id);
      if (result?.ok) {
        this.knownVersion = -1;
        await this.refresh();
        return this.records.find((r) => r.id === id) ?? result.record;
      }
      if (result) throw new CenterError(result.code as CenterErrorCode, result.message);
      await sleep(50);
    }
    throw new CenterError(
      'CENTER_SERVICE_UNAVAILABLE',
      `no center replica took the ${command} of rollout ${id} in time (none drives rollouts now); retry`,
    );
  }

  /** Applies an operator's command on the driving replica. */
  private async apply(id: string, command: RolloutCommand, by: string): Promise<RolloutRecord> {
    const record = this.get(id);
    const refused = refuseCommand(record, command);
    if (refused) throw refused;
    switch (command) {
      case 'pause':
        record.state = 'paused';
        this.event(record, 'paused', `by ${by}`);
        break;
      case 'resume':
        record.state = 'running';
        this.event(record, 'resumed', `by ${by}`);
        break;
      case 'promote':
        record.promote_requested = true;
        this.event(record, 'promote_requested', `by ${by}`);
        break;
      case 'abort':
        this.event(record, 'aborted', `by ${by}`);
        await rollBackRollout(this.stepContext, record, `aborted by ${by}`, []);
        return record;
    }
    this.save();
    return record;
  }

  /** Evaluates the active rollout once; ticks never overlap (one asked for meanwhile runs after). */
  tick(): Promise<void> {
    if (this.closed || !this.started) return Promise.resolve();
    if (this.ticking) {
      this.tickAgain = true;
      return this.ticking;
    }
    this.ticking = this.cycle()
      .catch((error: unknown) =>
        this.options.logger.error({ event: 'center.rollout_tick_failed', err: error }, 'rollout step failed'),
      )
      .finally(() => {
        this.ticking = undefined;
        if (this.tickAgain && !this.closed) {
          this.tickAgain = false;
          void this.tick();
        }
      });
    return this.ticking;
  }

  /** One tick: a follower reads the records (and tries to take the lease); the driver runs commands and a step. */
  private async cycle(): Promise<void> {
    if (this.store.shared) {
      this.lease.stepDownIfStale();
      if (!this.lease.held) {
        await this.renewLease();
        if (!this.lease.held) {
          await this.refresh();
          return;
        }
      }
      for (const queued of await this.store.takeCommands(this.lease.token)) {
        try {
          const record = await this.apply(queued.rollout, queued.command, queued.by);
          await this.store.putResult(queued.id, { ok: true, record: structuredClone(record) });
        } catch (error) {
          const coded = error instanceof CenterError ? error : undefined;
          await this.store.putResult(queued.id, {
            ok: false,
            code: coded?.code ?? 'CENTER_INTERNAL',
            message: coded?.message ?? 'the replica driving rollouts failed to apply the command; see its log',
          });
        }
      }
    }
    await this.step();
  }

  /** Takes or renews the lease (shared store); on taking it, resumes from the saved records. */
  private async renewLease(): Promise<void> {
    if (this.closed || !this.store.shared) return;
    if (!(await this.lease.renew())) return;
    // Taken: what the previous driver saved is the truth; rollouts only known from the log are added.
    const saved = await this.store.load();
    const provisional = this.records.filter((r) => isActive(r) && !saved.some((s) => s.id === r.id));
    this.records = [...saved, ...provisional];
    this.lease.lead();
    this.reindex();
    const active = this.active();
    this.options.logger.info(
      { event: 'center.rollout_lease_taken', rollout: active?.id ?? null, lease_ms: this.lease.ms },
      active
        ? `this replica now drives rollouts; rollout ${active.id} resumes at wave ${active.wave + 1}`
        : 'this replica now drives rollouts',
    );
    if (provisional.length > 0) this.save();
  }

  /** A follower's read of the driver's records; rollouts only known from the log so far are kept. */
  private async refresh(): Promise<void> {
    const version = await this.store.version();
    if (version === this.knownVersion) return;
    const saved = await this.store.load();
    if (this.lease.held) return;
    const provisional = this.records.filter(
      (r) =>
        isActive(r) && !saved.some((s) => s.id === r.id) && r.revision > Math.max(0, ...saved.map((s) => s.revision)),
    );
    this.records = [...saved, ...provisional];
    this.knownVersion = version;
    this.reindex();
  }

  private async step(): Promise<void> {
    const record = this.active();
    if (record) await stepRollout(this.stepContext, record);
  }

  private event(record: RolloutRecord, event: RolloutEvent['event'], detail: string): void {
    recordEvent(this.options.logger, record, event, detail);
  }

  /** Saves every record (the driver only; a save refused by the lease fence makes it step down). */
  private save(): void {
    if (!this.lease.held) return;
    const now = new Date().toISOString();
    for (const record of this.records) if (isActive(record) || record.state === 'rolling_back') record.updated_at = now;
    const snapshot = structuredClone(this.records);
    this.saving = this.saving
      .then(async () => {
        if (!this.lease.held) return;
        if (!(await this.store.save(snapshot, this.lease.token))) this.lease.stepDown('another replica took the lease');
      })
      .catch((error: unknown) =>
        this.options.logger.error(
          { event: 'center.rollout_save_failed', err: error },
          'could not save the rollout state',
        ),
      );
  }
}

export { layerRevisionBefore } from './new-rollout-record.js';
export { describeGates } from './roll-back-rollout.js';
export type { RolloutCommand } from './rollout-command.js';
/** Re-exported for the routes: a policy as the service takes it. */
export type { RolloutPolicy };
