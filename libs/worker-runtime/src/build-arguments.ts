import { type TaskMessage, taskCallArguments } from '@celeriac/protocol';
import type { TaskPlan } from './task-plan.js';

/** A task was called with arguments it does not declare (stored as Python's `TypeError`). */
export class TaskArgumentError extends TypeError {
  static readonly codes = ['WORKER_TASK_ARGUMENTS_INVALID'] as const;
  readonly code = 'WORKER_TASK_ARGUMENTS_INVALID';
  constructor(message: string) {
    super(message);
    // Crosses the wire: a Python client's get() raises builtins.TypeError, as for a Python task.
    this.name = 'TypeError';
  }
}

/**
 * The JS arguments of a call (the mapping the client's eager mode shares, `taskCallArguments`): with
 * `params`, kwargs land on their declared positions; without, non-empty kwargs are one extra last
 * argument. A keyword the task does not take is a `TaskArgumentError`.
 */
export function buildArguments(plan: TaskPlan, message: TaskMessage): unknown[] {
  return taskCallArguments(plan.name, plan.params, message.args, message.kwargs, (m) => new TaskArgumentError(m));
}
