import { runRemote } from '../ops/remote-control.js';

/** `celeriac inspect <method>`: Celery's `inspect` over the pidbox, for Celeriac and Python workers. */
export function run(argv: string[]): Promise<number> {
  return runRemote('inspect', argv);
}
