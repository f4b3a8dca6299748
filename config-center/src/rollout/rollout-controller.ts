import type { NodeStatus, RolloutPolicy } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { CommitResult, NodeView } from '../center-state.js';
import type { ConfigService, RolloutHook, WriteRequest } from '../config-service.js';
import { CenterError } from '../errors.js';
import type { Revision } from '../types.js';
import { decideStep } from './decide-step.js';
import { evaluateGates, type GateResult, observeNode } from './evaluate-gates.js';
import { planWaves } from './plan-waves.js';
import { admitRestarts, stillRestarting } from './restart-budget.js';
import { isActive, type RolloutEvent, type RolloutRecord } from './rollout-record.js';
import type { RolloutStore } from './rollout-store.js';

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
 */
export class RolloutController implements RolloutHook {
  private records: RolloutRecord[] = [];
  private readonly pinned = new Map<string, NodeView>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: RolloutControllerOptions) {}

  /** Loads saved rollouts (an interrupted one resumes where it was) and starts evaluating. */
  async start(): Promise<void> {
    this.records = await this.options.store.load();
    const active = this.active();
    if (active)
      this.options.logger.info(
        { event: 'center.rollout_resumed', rollout: active.id, wave: active.wave, state: active.state },
        `rollout ${active.id} resumed at wave ${active.wave + 1} of ${active.waves.length}`,
      );
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 1000);
    this.timer.unref();
  }

  /** Stops evaluating; waits for a running tick and the last save. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await this.saving;
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

  committed(revision: Revision, result: CommitResult, request: WriteRequest | undefined): void {
    const policy = request?.rollout;
    if (!policy || !request) return;
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
      id: `r${revision.revision}`,
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
    this.event(record, 'started', `${affected.size} node(s) in ${record.waves.length} wave(s)`);
    this.records.push(record);
    this.pinned.clear();
    this.save();
    // Serve the first wave as soon as the budget allows, not a tick later.
    queueMicrotask(() => void this.tick());
  }

  served(node: string, view: NodeView): NodeView {
    const record = this.records.find(isActive);
    if (!record || !(node in record.prior) || record.served.includes(node)) return view;
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

  /** An operator's request; throws CENTER_CONFLICT when the rollout is not in a state that takes it. */
  async command(id: string, command: RolloutCommand, by: string): Promise<RolloutRecord> {
    const record = this.get(id);
    const refuse = () =>
      new CenterError('CENTER_CONFLICT', `rollout ${id} is ${record.state}; it cannot be ${command}d now`, {
        currentRevision: record.revision,
      });
    switch (command) {
      case 'pause':
        if (record.state !== 'running') throw refuse();
        record.state = 'paused';
        this.event(record, 'paused', `by ${by}`);
        break;
      case 'resume':
        if (record.state !== 'paused') throw refuse();
        record.state = 'running';
        this.event(record, 'resumed', `by ${by}`);
        break;
      case 'promote':
        if (!isActive(record)) throw refuse();
        record.promote_requested = true;
        this.event(record, 'promote_requested', `by ${by}`);
        break;
      case 'abort':
        if (!isActive(record)) throw refuse();
        this.event(record, 'aborted', `by ${by}`);
        await this.rollBack(record, `aborted by ${by}`, []);
        return record;
    }
    this.save();
    await this.tick();
    return record;
  }

  /** Evaluates the active rollout once; ticks never overlap. */
  tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.ticking) return this.ticking;
    this.ticking = this.step()
      .catch((error: unknown) =>
        this.options.logger.error({ event: 'center.rollout_tick_failed', err: error }, 'rollout step failed'),
      )
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async step(): Promise<void> {
    const record = this.active();
    if (!record) return;
    if (record.state === 'rolling_back') {
      // The center stopped while writing the rollback: write it now.
      if (record.rollback_revision === undefined) await this.rollBack(record, record.last_reason, record.last_gates);
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
      for (const node of admission.admitted) {
        record.served.push(node);
        this.options.wake(node);
      }
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
        const breached = evaluation.gates.filter((gate) => gate.verdict === 'fail');
        await this.rollBack(record, `${decision.reason}: ${describeGates(breached) || decision.reason}`, breached);
        return;
      }
    }
  }

  private finish(record: RolloutRecord): void {
    record.state = 'succeeded';
    record.promote_requested = false;
    this.pinned.clear();
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
    this.event(record, 'rolled_back', message, gates);
    this.pinned.clear();
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

  private save(): void {
    const now = new Date().toISOString();
    for (const record of this.records) if (isActive(record) || record.state === 'rolling_back') record.updated_at = now;
    const snapshot = structuredClone(this.records);
    this.saving = this.saving
      .then(() => this.options.store.save(snapshot))
      .catch((error: unknown) =>
        this.options.logger.error(
          { event: 'center.rollout_save_failed', err: error },
          'could not save the rollout state',
        ),
      );
  }
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
