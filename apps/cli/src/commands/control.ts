import { runRemote } from '../ops/remote-control.js';

/** `celeriac control <method>`: Celery's `control` over the pidbox, for Celeriac and Python workers. */
export function run(argv: string[]): Promise<number> {
  return runRemote('control', argv);
}
