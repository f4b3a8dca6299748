import type { Delivery } from '@celeriac/broker';
import type { TaskMessage } from '@celeriac/protocol';
import type { TaskPlan } from './task-plan.js';

/** Where a job is in this worker. */
export type JobState = 'held' | 'running' | 'done';

/** One decoded message in this worker's custody, from fetch to ack. */
export interface Job {
  readonly delivery: Delivery;
  readonly message: TaskMessage;
  readonly plan: TaskPlan;
  state: JobState;
  /** Its ack has been queued (early ack at start, or with the result). */
  acked: boolean;
  /** Handed back to the broker at a cold shutdown: whatever it does later is ignored. */
  abandoned: boolean;
}
