import type { FleetLimit } from '@celeriac/broker';
import type { Lane, StageKind } from './fleet-limit-lane.js';
import type { Job } from './job-custody.js';

/** One limit a job must pass: its tokens or one of its slots. */
export interface Stage {
  kind: StageKind;
  limit: FleetLimit;
  /** `rate:<limit id>` or `slot:<limit id>`. */
  name: string;
  /** The lane of a limit without a key (one for all jobs). */
  lane: Lane | null;
}

/**
 * The fleet limits in force, by task and by queue, and the stages a job of a queue and task
 * goes through: the queue's rate, the task's rate, then the task's slot and the queue's slot.
 */
export class FleetLimitStages {
  private byTask = new Map<string, FleetLimit>();
  private byQueue = new Map<string, FleetLimit>();
  /** Stages per queue, then task name (rebuilt when the limits change). */
  private stageCache = new Map<string, Map<string, Stage[]>>();

  /** `laneFor`: the lane of a limit without a key (made once, with the stage). */
  constructor(private readonly laneFor: (kind: StageKind, limit: FleetLimit) => Lane) {}

  /** No limit in force. */
  get empty(): boolean {
    return this.byTask.size === 0 && this.byQueue.size === 0;
  }

  /** The limits in force, by id. */
  limits(): FleetLimit[] {
    return [...this.byTask.values(), ...this.byQueue.values()];
  }

  /** Puts `limits` in force. */
  set(limits: readonly FleetLimit[]): void {
    this.byTask = new Map(limits.filter((l) => l.scope === 'task').map((l) => [l.target, l]));
    this.byQueue = new Map(limits.filter((l) => l.scope === 'queue').map((l) => [l.target, l]));
    this.stageCache = new Map();
  }

  /** The limit in force for the scope and target of `limit` (perhaps changed), if any. */
  current(limit: FleetLimit): FleetLimit | undefined {
    return (limit.scope === 'task' ? this.byTask : this.byQueue).get(limit.target);
  }

  /** The stages of `job`, in the order it passes them. */
  of(job: Job): Stage[] {
    const queue = job.delivery.queue;
    const task = job.message.task;
    let byTask = this.stageCache.get(queue);
    if (byTask === undefined) {
      byTask = new Map();
      this.stageCache.set(queue, byTask);
    }
    let stages = byTask.get(task);
    if (stages === undefined) {
      stages = [];
      const q = this.byQueue.get(queue);
      const t = this.byTask.get(task);
      if (q?.ratePerSec != null) stages.push(this.stage('rate', q));
      if (t?.ratePerSec != null) stages.push(this.stage('rate', t));
      if (t?.concurrency != null) stages.push(this.stage('slot', t));
      if (q?.concurrency != null) stages.push(this.stage('slot', q));
      byTask.set(task, stages);
    }
    return stages;
  }

  private stage(kind: StageKind, limit: FleetLimit): Stage {
    const stage: Stage = { kind, limit, name: `${kind}:${limit.id}`, lane: null };
    if (limit.key === null) stage.lane = this.laneFor(kind, limit);
    return stage;
  }
}
