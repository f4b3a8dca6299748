/**
 * Exit code of a `celeriac worker` program that stopped warm to be replaced
 * (`worker_max_tasks_per_child` / `worker_max_memory_per_child`): the agent starts its successor at
 * once, without crash backoff and without counting a crash. 75 is sysexits' EX_TEMPFAIL.
 */
export const WORKER_RECYCLE_EXIT_CODE = 75;
