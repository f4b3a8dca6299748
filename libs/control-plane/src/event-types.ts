/**
 * The fields of each Celery 5.2 task event, as celery/worker/request.py, strategy.py and
 * app/amqp.py send them (fixture events_worker_and_task.json). The dispatcher adds `hostname`,
 * `utcoffset`, `pid`, `clock`, `timestamp` and `type` to every event.
 * Strings marked "repr" are Python reprs (`pyRepr`/`pyReprTuple` of @celeriac/protocol, or the
 * message's `argsrepr`/`kwargsrepr` headers).
 */
export interface TaskEventFields {
  /** Client side, when `task_send_sent_event` is on: right after the message is published. */
  'task-sent': {
    uuid: string;
    root_id: string | null;
    parent_id: string | null;
    name: string;
    /** repr of args / kwargs (the `argsrepr`/`kwargsrepr` headers). */
    args: string;
    kwargs: string;
    retries: number;
    /** ISO 8601 or null. */
    eta: string | null;
    expires: string | null;
    queue: string;
    exchange: string;
    routing_key: string;
  };
  /** The worker accepted the message (after its revoke/expiry checks), before it waits or runs. */
  'task-received': {
    uuid: string;
    name: string;
    args: string;
    kwargs: string;
    root_id: string | null;
    parent_id: string | null;
    retries: number;
    eta: string | null;
    expires: string | null;
  };
  /** The task begins to run. */
  'task-started': { uuid: string };
  /** It returned: `result` is the repr of the return value, `runtime` seconds (float). */
  'task-succeeded': { uuid: string; result: string; runtime: number };
  /** It raised: `exception` is the repr of the exception (`ValueError('x')`), `traceback` its text. */
  'task-failed': { uuid: string; exception: string; traceback?: string };
  /** It asked for a retry (`exception` repr and `traceback` of the Retry's cause). */
  'task-retried': { uuid: string; exception: string; traceback: string };
  /** The message was rejected (requeued or dead-lettered). */
  'task-rejected': { uuid: string; requeue: boolean };
  /** Dropped as revoked, expired, or terminated while running (`signum` is the signal number or null). */
  'task-revoked': { uuid: string; terminated: boolean; signum: number | null; expired: boolean };
}

export type TaskEventType = keyof TaskEventFields;

/** The worker events, sent whether or not task events are on. */
export type WorkerEventType = 'worker-online' | 'worker-heartbeat' | 'worker-offline';

/** Fields of a worker event (celery/worker/heartbeat.py). */
export interface WorkerEventFields {
  /** Heartbeat interval in seconds (2.0). */
  freq: number;
  /** Requests running now. */
  active: number;
  /** Tasks processed since start, all names. */
  processed: number;
  loadavg: [number, number, number];
  sw_ident: string;
  sw_ver: string;
  sw_sys: string;
}
