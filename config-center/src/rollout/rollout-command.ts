import { CenterError } from '../errors.js';
import { isActive, type RolloutRecord } from './rollout-record.js';

/** Operator requests on a rollout. */
export type RolloutCommand = 'pause' | 'resume' | 'promote' | 'abort';

/** Why `command` is refused in the record's state, as a 409; undefined when it is taken. */
export function refuseCommand(record: RolloutRecord, command: RolloutCommand): CenterError | undefined {
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
