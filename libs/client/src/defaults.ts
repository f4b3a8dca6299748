/** Celery's defaults for the settings the client and worker read (Celery's lowercase names). */
export const CELERY_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  broker_url: 'redis://127.0.0.1:6379/0',
  // Celery's default is "no backend"; a client that calls get() needs one, so the broker's Redis is used.
  result_backend: null,
  task_default_queue: 'celery',
  task_serializer: 'json',
  result_serializer: 'json',
  accept_content: ['json'],
  result_accept_content: null,
  result_expires: 86400,
  task_acks_late: false,
  task_ignore_result: false,
  task_time_limit: null,
  task_soft_time_limit: null,
  task_routes: null,
  task_annotations: null,
  worker_prefetch_multiplier: 4,
  worker_concurrency: null,
  broker_transport_options: {},
  timezone: 'UTC',
  enable_utc: true,
});
