import type { TaskMessage } from '@celeriac/protocol';
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
 * The JS arguments of a call: with `params`, kwargs land on their declared positions (missing ones
 * are `undefined`, so JS defaults apply); without, non-empty kwargs are one extra last argument.
 */
export function buildArguments(plan: TaskPlan, message: TaskMessage): unknown[] {
  const args = message.args;
  const kwargs = message.kwargs;
  let hasKwargs = false;
  for (const _ in kwargs) {
    hasKwargs = true;
    break;
  }
  if (!hasKwargs) return args;
  const params = plan.params;
  if (params === null) return [...args, kwargs];
  const out = args.slice();
  for (const key of Object.keys(kwargs)) {
    const index = params.indexOf(key);
    if (index === -1) {
      throw new TaskArgumentError(`${plan.name}() got an unexpected keyword argument '${key}'`);
    }
    if (index < args.length) {
      throw new TaskArgumentError(`${plan.name}() got multiple values for argument '${key}'`);
    }
    while (out.length < index) out.push(undefined);
    out[index] = kwargs[key];
  }
  return out;
}
