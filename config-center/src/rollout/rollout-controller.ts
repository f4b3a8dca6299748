import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CenterErrorCode, NodeStatus, RolloutPolicy } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { CommitResult, NodeView } from '../center-state.js';
import type { ConfigService, RolloutHook, RolloutPlacement, WriteRequest } from '../config-service.js';
import { CenterError } from '../errors.js';
import type { Revision } from '../types.js';
import { decideStep } from './decide-step.js';
import { evaluateGates, type GateResult, observeNode } from './evaluate-gates.js';
import { planWaves } from './plan-waves.js';
import { admitRestarts, stillRestarting } from './restart-budget.js';
import { isActive, type RolloutEvent, type RolloutRecord } from './rollout-record.js';
import type { QueuedRolloutCommand, RolloutStore } from './rollout-store.js';

/** Operator requests on a rollout. */
export type RolloutCommand = 'pause' | 'resume' | 'promote' | 'abort';

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

function programCount(config: Record<string, unknown>): number {
  const programs = config.programs;
  return programs !== null && typeof programs === 'object' ? Object.keys(programs).length : 0;
}

/**
 * Runs rollouts in the center: a write with a policy starts one; each node of the change is served
 * the new revision only once its wave admits it (the others keep their effective config of the
 * revision before), and every tick holds the wave to its gates (`evaluateGates`, `decideStep`),
 * promotes it, finishes, or rolls the changed nodes back with a new revision. One rollout at a
 * time: other writes are refused while it runs. State is saved in `store` on every transition.
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
  /** This replica's lease token. */
  private readonly lease = randomUUID();
  private leading = false;
  private leaseRenewedAt = 0;
  private readonly leaseMs: number;
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

  constructor(private readonly options: RolloutControllerOptions) {
    this.leaseMs = options.leaseMs ?? 10_000;
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
      this.leading = true;
      if (candidate && this.records.includes(candidate)) this.save();
    } else {
      this.store.onChange(() => void this.tick());
      await this.renewLease();
      this.leaseTimer = setInterval(() => void this.renewLease(), Math.max(100, Math.floor(this.leaseMs / 3)));
      this.leaseTimer.unref();
    }
    const active = this.active();
    if (active && this.leading)
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
    if (this.store.shared && this.leading) {
      this.leading = false;
      await this.store.releaseLease(this.lease).catch(() => undefined);
    }
  }

  /** True while this replica drives rollouts (always with a store of one process). */
  get driving(): boolean {
    return this.leading;
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
    const { service } = this.options;
    const state = service.state;
    const affected = new Set(result.changedNodes);
    if (result.baselineChanged)
      for (const node of service.knownNodes()) if (!state.hasNodeLayer(node)) affected.add(node);
    if (affected.size === 0) return;
    const selectable = [...affected].map((node) => ({ node, groups: state.groups(node), labels: state.labels(node) }));
    const prior: Record<string, number> = {};
    const restarts: Record<string, number> = {};
    for (const node of affected) {
      const history = state.view(node).history;
      prior[node] = history.at(-2) ?? 0;
      restarts[node] = Math.max(1, programCount(state.view(node).config));
    }
    const now = new Date().toISOString();
    const record: RolloutRecord = {
      id,
      revision: revision.revision,
      layer: revision.layer,
      layer_base_revision: layerRevisionBefore(state.revisions, revision.layer, revision.revision),
      state: 'running',
      policy,
      waves: planWaves(policy, selectable),
      wave: 0,
      wave_started_at: now,
      passing_since: null,
      promote_requested: false,
      served: [],
      prior,
      restarts,
      started_at: now,
      updated_at: now,
      last_verdict: null,
      last_gates: [],
      last_reason: 'starting',
      events: [],
    };
    if (!this.started) {
      // Replaying the log before start: the saved records decide which of these still matter.
      this.candidate = record;
      return;
    }
    this.event(record, 'started', `${affected.size} node(s) in ${record.waves.length} wave(s)`);
    this.records.push(record);
    this.reindex();
    // Another replica holds the same record from the same revision until the driver's is read.
    if (!this.leading) return;
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
    if (this.leading) {
      const record = await this.apply(id, command, by);
      await this.tick();
      return record;
    }
    const refused = refusal(this.get(id), command);
    if (refused) throw refused;
    const queued: QueuedRolloutCommand = { id: randomUUID(), rollout: id, command, by };
    await this.store.queueCommand(queued);
    const deadline = Date.now() + 2 * this.leaseMs + 5000;
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
    const refused = refusal(record, command);
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
        await this.rollBack(record, `aborted by ${by}`, []);
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
      if (this.leading && Date.now() - this.leaseRenewedAt > this.leaseMs * 0.8) this.stepDown('its lease ran out');
      if (!this.leading) {
        await this.renewLease();
        if (!this.leading) {
          await this.refresh();
          return;
        }
      }
      for (const queued of await this.store.takeCommands(this.lease)) {
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
    let held: boolean;
    try {
      held = await this.store.acquireLease(this.lease, this.leaseMs);
    } catch (error) {
      this.options.logger.warn(
        { event: 'center.rollout_lease_failed', err: error },
        'could not renew the rollout lease',
      );
      return;
    }
    if (!held) {
      if (this.leading) this.stepDown('another replica holds the lease');
      return;
    }
    this.leaseRenewedAt = Date.now();
    if (this.leading) return;
    // Taken: what the previous driver saved is the truth; rollouts only known from the log are added.
    const saved = await this.store.load();
    const provisional = this.records.filter((r) => isActive(r) && !saved.some((s) => s.id === r.id));
    this.records = [...saved, ...provisional];
    this.leading = true;
    this.reindex();
    const active = this.active();
    this.options.logger.info(
      { event: 'center.rollout_lease_taken', rollout: active?.id ?? null, lease_ms: this.leaseMs },
      active
        ? `this replica now drives rollouts; rollout ${active.id} resumes at wave ${active.wave + 1}`
        : 'this replica now drives rollouts',
    );
    if (provisional.length > 0) this.save();
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.knownVersion = -1;
    this.options.logger.warn(
      { event: 'center.rollout_lease_lost', reason: why },
      `this replica no longer drives rollouts: ${why}`,
    );
  }

  /** A follower's read of the driver's records; rollouts only known from the log so far are kept. */
  private async refresh(): Promise<void> {
    const version = await this.store.version();
    if (version === this.knownVersion) return;
    const saved = await this.store.load();
    if (this.leading) return;
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
    if (!record) return;
    if (record.state === 'rolling_back') {
      // The center (or the replica driving) stopped while writing the rollback: write it now,
      // unless it got into the log before the stop.
      if (record.rollback_revision !== undefined) return;
      const written = this.options.service.state.revisions
        .slice(record.revision)
        .find(
          (r) =>
            r.kind === 'rollback' && r.author.token_id === 'rollout' && r.message.startsWith(`rollout ${record.id} `),
        );
      if (written) {
        record.state = 'rolled_back';
        record.rollback_revision = written.revision;
        this.event(record, 'rolled_back', written.message, record.last_gates);
        this.reindex();
        this.save();
      } else await this.rollBack(record, record.last_reason, record.last_gates);
      return;
    }
    const { service } = this.options;
    const statuses = await service.statuses();
    const statusOf = (node: string) => statuses.get(node)?.status as NodeStatus | undefined;
    const wave = record.waves[record.wave];
    if (!wave) {
      this.finish(record);
      return;
    }
    const servedSet = new Set(record.served);
    let waiting = wave.nodes.filter((node) => !servedSet.has(node));
    if (record.state === 'running' || record.promote_requested) {
      const inFlight = record.served
        .filter(
          (node) =>
            observeNode(node, statusOf(node), record.revision).apply === 'pending' ||
            stillRestarting(statusOf(node), service.state.view(node).config),
        )
        .reduce((sum, node) => sum + (record.restarts[node] ?? 1), 0);
      const fleetPrograms = service
        .knownNodes()
        .reduce((sum, node) => sum + programCount(service.state.view(node).config), 0);
      const admission = admitRestarts(
        record.policy.restart_budget,
        fleetPrograms,
        inFlight,
        waiting.map((node) => ({ node, restarts: record.restarts[node] ?? 1 })),
      );
      for (const node of admission.admitted) record.served.push(node);
      // Wakes the admitted nodes' long-polls: they are served the revision now.
      this.reindex();
      if (admission.admitted.length > 0) {
        this.options.logger.info(
          { event: 'center.rollout_served', rollout: record.id, wave: record.wave, nodes: admission.admitted },
          `rollout ${record.id}: revision ${record.revision} served to ${admission.admitted.join(', ')}`,
        );
        this.save();
      }
      waiting = admission.waiting;
    }
    const served = new Set(record.served);
    const evaluation = evaluateGates(
      record.policy.gates,
      wave.nodes.map((node) => observeNode(node, served.has(node) ? statusOf(node) : undefined, record.revision)),
      service
        .knownNodes()
        .filter((node) => !served.has(node))
        .map((node) => observeNode(node, statusOf(node), Number.MAX_SAFE_INTEGER)),
    );
    const now = Date.now();
    const decision = decideStep({
      now_ms: now,
      wave_started_ms: Date.parse(record.wave_started_at),
      passing_since_ms: record.passing_since === null ? null : Date.parse(record.passing_since),
      soak_ms: wave.soak_ms,
      progress_deadline_ms: record.policy.progress_deadline,
      verdict: evaluation.verdict,
      last_wave: record.wave === record.waves.length - 1,
      paused: record.state === 'paused',
      promote_now: record.promote_requested,
      waiting_for_budget: waiting.length,
    });
    const changed = record.last_verdict !== evaluation.verdict || record.last_reason !== decision.reason;
    record.last_verdict = evaluation.verdict;
    record.last_gates = evaluation.gates;
    record.last_reason = decision.reason;
    record.passing_since =
      decision.passing_since_ms === null ? null : new Date(decision.passing_since_ms).toISOString();
    switch (decision.action) {
      case 'hold':
        if (changed) this.save();
        return;
      case 'promote':
        this.event(
          record,
          'promoted',
          `wave ${record.wave + 1} → ${record.wave + 2}: ${decision.reason}`,
          evaluation.gates,
        );
        record.wave++;
        record.wave_started_at = new Date(now).toISOString();
        record.passing_since = null;
        record.promote_requested = false;
        this.save();
        return;
      case 'done':
        this.event(record, 'succeeded', decision.reason, evaluation.gates);
        this.finish(record);
        return;
      case 'rollback': {
        // A breach names the failed gates; a wave past its deadline the ones it still waits for.
        const failed = evaluation.gates.filter((gate) => gate.verdict === 'fail');
        const decisive = failed.length > 0 ? failed : evaluation.gates.filter((gate) => gate.verdict === 'pending');
        await this.rollBack(record, `${decision.reason}: ${describeGates(decisive) || decision.reason}`, decisive);
        return;
      }
    }
  }

  private finish(record: RolloutRecord): void {
    record.state = 'succeeded';
    record.promote_requested = false;
    this.reindex();
    this.options.logger.info(
      { event: 'center.rollout_succeeded', rollout: record.id, revision: record.revision },
      `rollout ${record.id}: revision ${record.revision} is on every node`,
    );
    this.save();
  }

  /** Writes the layer back to its document before the rollout as a new revision, and stops the rollout. */
  private async rollBack(record: RolloutRecord, reason: string, gates: GateResult[]): Promise<void> {
    record.state = 'rolling_back';
    record.last_reason = reason;
    record.last_gates = gates.length > 0 ? gates : record.last_gates;
    this.reindex();
    this.save();
    const { service } = this.options;
    const base =
      record.layer_base_revision === 0 ? {} : (service.state.revision(record.layer_base_revision)?.document ?? {});
    const message = `rollout ${record.id} of revision ${record.revision} rolled back at wave ${record.wave + 1}: ${reason}`;
    const outcome = await service.write({
      layer: record.layer,
      kind: 'rollback',
      body: base,
      ifMatch: undefined,
      author: { token_id: 'rollout', name: `rollout ${record.id}`, role: 'admin' },
      message,
      ...(record.layer_base_revision > 0 ? { restoredFrom: record.layer_base_revision } : {}),
    });
    record.state = 'rolled_back';
    if (outcome.revision) record.rollback_revision = outcome.revision.revision;
    this.reindex();
    this.event(record, 'rolled_back', message, gates);
    this.options.logger.warn(
      {
        event: 'center.rollout_rolled_back',
        rollout: record.id,
        revision: record.revision,
        rollback_revision: record.rollback_revision ?? null,
        wave: record.wave,
        gates: gates.map((g) => ({ gate: g.gate, measured: g.measured, bound: g.bound })),
      },
      message,
    );
    this.save();
  }

  private event(record: RolloutRecord, event: RolloutEvent['event'], detail: string, gates?: GateResult[]): void {
    const entry: RolloutEvent = { at: new Date().toISOString(), event, wave: record.wave, detail };
    if (gates && gates.length > 0) entry.gates = gates;
    record.events.push(entry);
    if (event !== 'rolled_back' && event !== 'aborted')
      this.options.logger.info(
        { event: `center.rollout_${event}`, rollout: record.id, wave: record.wave },
        `rollout ${record.id}: ${event}: ${detail}`,
      );
  }

  /** Saves every record (the driver only; a save refused by the lease fence makes it step down). */
  private save(): void {
    if (!this.leading) return;
    const now = new Date().toISOString();
    for (const record of this.records) if (isActive(record) || record.state === 'rolling_back') record.updated_at = now;
    const snapshot = structuredClone(this.records);
    this.saving = this.saving
      .then(async () => {
        if (!this.leading) return;
        if (!(await this.store.save(snapshot, this.lease))) this.stepDown('another replica took the lease');
      })
      .catch((error: unknown) =>
        this.options.logger.error(
          { event: 'center.rollout_save_failed', err: error },
          'could not save the rollout state',
        ),
      );
  }
}

/** Why `command` is refused in the record's state, as a 409; undefined when it is taken. */
function refusal(record: RolloutRecord, command: RolloutCommand): CenterError | undefined {
  const takes =
    command === 'pause'
      ? record.state === 'running'
      : command === 'resume'
        ? record.state === 'paused'
        : isActive(record);
  if (takes) return undefined;
  return new CenterError('CENTER_CONFLICT', `rollout ${record.id} is ${record.state}; it cannot be ${command}d now`, {
    currentRevision: record.revision,
  });
}

/** "failure_rate 1 > 0.1; no_crash_loop ..." for a revision message. */
export function describeGates(gates: readonly GateResult[]): string {
  return gates
    .map(
      (gate) => `${gate.gate} measured ${gate.measured ?? 'n/a'} against bound ${gate.bound ?? 'n/a'} (${gate.detail})`,
    )
    .join('; ');
}

/** The revision of `layer`'s last change before `revision` (0 when it did not exist). */
export function layerRevisionBefore(revisions: readonly Revision[], layer: string, revision: number): number {
  for (let i = revision - 2; i >= 0; i--) if (revisions[i]?.layer === layer) return i + 1;
  return 0;
}

/** Re-exported for the routes: a policy as the service takes it. */
export type { RolloutPolicy };
