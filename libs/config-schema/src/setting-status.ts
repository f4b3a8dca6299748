import { CELERIAC_SETTING_NAMES } from './celeriac-settings.js';
import { CELERY_SETTING_NAMES, LATER_CELERY_SETTING_NAMES } from './celery-setting-names.js';

/**
 * What Celeriac does with a setting:
 * - `honoured`: the client and/or the worker act on it as Celery does (`reason` says where and how);
 * - `meaningless`: accepted and ignored, because it means nothing here (`reason` says why);
 * - `unsupported`: not acted on although it would change behaviour: every client and worker that
 *   gets it warns once, naming it and `reason`, and `celeriac_strict_settings` refuses it.
 */
export type SettingStatus = 'honoured' | 'meaningless' | 'unsupported';

/** One row of the table. */
export interface SettingStatusEntry {
  readonly status: SettingStatus;
  /** Where it is honoured, why it means nothing here, or why it is not supported. */
  readonly reason: string;
  /**
   * For `unsupported` settings: values that behave exactly as Celeriac does anyway (Celery's default
   * among them), so that a celeryconfig spelling out a default gets no warning.
   */
  readonly harmless?: readonly unknown[];
  /** Who implements it, when it is honoured by a part other than the settings work. */
  readonly by?: 'routing' | 'urls' | 'canvas' | 'fleet';
  /**
   * For a setting honoured on Redis brokers only: what happens on RabbitMQ instead, and the values
   * that ask for nothing there. Given any other value with an `amqp://` broker, it is reported as
   * not supported (the worker and client warn, the center's validation says so).
   */
  readonly onRabbitMq?: { readonly instead: string; readonly harmless: readonly unknown[] };
}

const H = (reason: string, by?: SettingStatusEntry['by']): SettingStatusEntry =>
  by ? { status: 'honoured', reason, by } : { status: 'honoured', reason };
const M = (reason: string): SettingStatusEntry => ({ status: 'meaningless', reason });
/** Honoured on Redis brokers; on RabbitMQ `instead` happens, and any value but `harmless` is reported. */
const REDIS_ONLY = (reason: string, instead: string, ...harmless: unknown[]): SettingStatusEntry => ({
  status: 'honoured',
  reason: `${reason} (Redis brokers; on RabbitMQ: ${instead})`,
  onRabbitMq: { instead, harmless },
});
const U = (reason: string, ...harmless: unknown[]): SettingStatusEntry => ({ status: 'unsupported', reason, harmless });

const OTHER_BACKEND = (name: string) =>
  M(
    `a setting of Celery's ${name} result backend; Celeriac stores results in Redis only (result_backend takes redis URLs)`,
  );
const BEAT = M(
  'read only by the beat scheduler (celery beat), which Celeriac does not replace: run Python celery beat on the same broker, Celeriac workers run what it sends',
);
const PYTHON_LOGGING = M('a setting of Python logging; Celeriac logs JSON lines (pino) at the -l level');
const PREFORK = M(
  'a setting of the prefork pool; a Celeriac worker runs tasks on one event loop (recycling: worker_max_tasks_per_child, worker_max_memory_per_child)',
);
const CLASS_PATH = M('names a Python class that replaces part of the Python worker; nothing to replace in Celeriac');
const SECURITY = U(
  "message signing (the auth serializer) is not implemented; sign nothing or use Python's security setup",
  null,
);
const OLD_HOST = U(
  'old host-style broker/backend settings are not read; give the broker_url / result_backend URL',
  null,
);

/**
 * Every Celery 5.2 setting (lowercase names; the old upper-case ones map onto these) and every
 * Celeriac setting, with its status. `docs/settings.md` is generated from this table
 * (`npx tsx libs/config-schema/scripts/settings-doc.ts`), and a test fails when the two differ or a name is missing.
 */
export const SETTING_STATUS: Readonly<Record<string, SettingStatusEntry>> = Object.freeze({
  accept_content: H('worker: content types of task messages it takes; others are dead-lettered'),
  arangodb_backend_settings: OTHER_BACKEND('ArangoDB'),
  azureblockblob_base_path: OTHER_BACKEND('Azure Block Blob'),
  azureblockblob_connection_timeout: OTHER_BACKEND('Azure Block Blob'),
  azureblockblob_container_name: OTHER_BACKEND('Azure Block Blob'),
  azureblockblob_read_timeout: OTHER_BACKEND('Azure Block Blob'),
  azureblockblob_retry_increment_base: OTHER_BACKEND('Azure Block Blob'),
  azureblockblob_retry_initial_backoff_sec: OTHER_BACKEND('Azure Block Blob'),
  azureblockblob_retry_max_attempts: OTHER_BACKEND('Azure Block Blob'),
  beat_max_loop_interval: BEAT,
  beat_schedule: BEAT,
  beat_schedule_filename: BEAT,
  beat_scheduler: BEAT,
  beat_sync_every: BEAT,
  broker_connection_max_retries: H(
    "worker: at start, retries of the broker connect (kombu's 2, 4, 6 ... 30 s sleeps; 0 none, null forever), then it fails with the error; while running, a broker gone longer than those retries would take fails the worker, as Celery's consumer gives up",
  ),
  broker_connection_retry: H(
    'worker: false makes a worker that cannot reach the broker at start fail at once with the error, and one that loses it while running fail (Celery re-raises and exits); true retries (broker_connection_max_retries)',
  ),
  broker_connection_timeout: H(
    "RabbitMQ: how long one URL's connect may take before the next of a failover list is tried (kombu's connect_timeout, 4 s); kombu's Redis transport does not use it: there the connect timeout is socket_connect_timeout in the broker URL's query, which Celeriac honours",
  ),
  broker_failover_strategy: H(
    "client and worker: the order a RabbitMQ failover list (broker_url 'amqp://h1;amqp://h2') is tried in: round-robin (default) or shuffle, as kombu; the same for a Redis failover list (broker_url 'redis://a;redis://b'): the next URL when a connect fails or the connection is lost (logged redis.failover); Redis Sentinel needs none",
    'urls',
  ),
  broker_heartbeat: H(
    "client and worker: the AMQP heartbeat of a RabbitMQ broker (seconds, 0 none); kombu's Redis transport has none",
  ),
  broker_heartbeat_checkrate: M("AMQP heartbeats; kombu's Redis transport has none either"),
  broker_host: OLD_HOST,
  broker_login_method: M('an AMQP login method; Redis authenticates with the password (and user) of the URL'),
  broker_native_delayed_delivery_queue_type: H(
    "worker on RabbitMQ (Celery 5.5's setting): queue type of the native delayed delivery levels celery_delayed_0 … 27, 'quorum' (default; at-least-once dead-lettering) or 'classic'; must match what a Celery 5.5 fleet on the same vhost declared; Redis ignores it",
  ),
  broker_password: OLD_HOST,
  broker_pool_limit: M('Celeriac keeps one Redis connection per role instead of a pool'),
  broker_port: OLD_HOST,
  broker_read_url: U('separate read and write broker URLs are not implemented; give broker_url', null),
  // Implemented by the routing work (visibility_timeout, priority_steps, sep, queue_order_strategy,
  // global_keyprefix) and the URL work (master_name and the other Sentinel keys).
  broker_transport_options: H('broker: the Redis transport options kombu reads', 'routing'),
  broker_transport: U('Celeriac speaks Redis only; the scheme of broker_url chooses it', null, 'redis', 'rediss'),
  broker_url: H(
    "client and worker: the broker: Redis (redis://, rediss://, redis+socket://, sentinel://, or a ';' failover list of the first three, as kombu) or RabbitMQ (amqp://, amqps://, pyamqp://, or a ';' failover list of them)",
  ),
  broker_use_ssl: H(
    "client and worker: TLS options of a rediss:// broker (ssl_* keys), or of a RabbitMQ broker (kombu's pyamqp dict: ca_certs, certfile, keyfile, cert_reqs; it makes amqp:// TLS too)",
    'urls',
  ),
  broker_user: OLD_HOST,
  broker_vhost: OLD_HOST,
  broker_write_url: U('separate read and write broker URLs are not implemented; give broker_url', null),
  cache_backend: OTHER_BACKEND('cache'),
  cache_backend_options: OTHER_BACKEND('cache'),
  cassandra_auth_kwargs: OTHER_BACKEND('Cassandra'),
  cassandra_auth_provider: OTHER_BACKEND('Cassandra'),
  cassandra_entry_ttl: OTHER_BACKEND('Cassandra'),
  cassandra_keyspace: OTHER_BACKEND('Cassandra'),
  cassandra_options: OTHER_BACKEND('Cassandra'),
  cassandra_port: OTHER_BACKEND('Cassandra'),
  cassandra_read_consistency: OTHER_BACKEND('Cassandra'),
  cassandra_servers: OTHER_BACKEND('Cassandra'),
  cassandra_table: OTHER_BACKEND('Cassandra'),
  cassandra_write_consistency: OTHER_BACKEND('Cassandra'),
  control_exchange: U('the remote-control exchange is always "celery"', 'celery'),
  control_queue_expires: H(
    "x-expires of the pidbox queues on RabbitMQ (<node>.celery.pidbox and the clients' reply queues); kombu's Redis transport ignores it",
  ),
  control_queue_ttl: H(
    "x-message-ttl of the pidbox queues on RabbitMQ (<node>.celery.pidbox and the clients' reply queues); kombu's Redis transport ignores it",
  ),
  cosmosdbsql_collection_name: OTHER_BACKEND('Cosmos DB'),
  cosmosdbsql_consistency_level: OTHER_BACKEND('Cosmos DB'),
  cosmosdbsql_database_name: OTHER_BACKEND('Cosmos DB'),
  cosmosdbsql_max_retry_attempts: OTHER_BACKEND('Cosmos DB'),
  cosmosdbsql_max_retry_wait_time: OTHER_BACKEND('Cosmos DB'),
  couchbase_backend_settings: OTHER_BACKEND('Couchbase'),
  database_engine_options: OTHER_BACKEND('SQLAlchemy'),
  database_short_lived_sessions: OTHER_BACKEND('SQLAlchemy'),
  database_table_names: OTHER_BACKEND('SQLAlchemy'),
  database_table_schemas: OTHER_BACKEND('SQLAlchemy'),
  database_url: OTHER_BACKEND('SQLAlchemy'),
  elasticsearch_max_retries: OTHER_BACKEND('Elasticsearch'),
  elasticsearch_retry_on_timeout: OTHER_BACKEND('Elasticsearch'),
  elasticsearch_save_meta_as_text: OTHER_BACKEND('Elasticsearch'),
  elasticsearch_timeout: OTHER_BACKEND('Elasticsearch'),
  enable_utc: M(
    'Celeriac writes every date with an explicit UTC offset, which Celery reads the same whatever enable_utc says',
  ),
  event_exchange: U('the event exchange is always "celeryev"', 'celeryev'),
  event_queue_expires: M('read by event receivers (celery events, Flower), not by workers or clients'),
  event_queue_prefix: M('read by event receivers (celery events, Flower), not by workers or clients'),
  event_queue_ttl: M('read by event receivers (celery events, Flower), not by workers or clients'),
  event_serializer: U('events are always sent as JSON', 'json'),
  imports: H(
    'worker: module paths (./tasks/mail.ts, resolved from the working directory) or package specifiers that `celeriac worker` imports after the -A app, so the tasks they register on it are served; a module that fails to load stops the worker',
  ),
  include: H('worker: as imports, imported after the imports modules'),
  mongodb_backend_settings: OTHER_BACKEND('MongoDB'),
  redis_backend_use_ssl: H('client and worker: TLS options of a rediss:// result backend', 'urls'),
  redis_db: OLD_HOST,
  redis_host: OLD_HOST,
  redis_max_connections: M('Celeriac keeps one Redis connection per role instead of a pool'),
  redis_password: OLD_HOST,
  redis_port: OLD_HOST,
  redis_retry_on_timeout: U(
    'ioredis always resends a command cut by redis_socket_timeout once it has reconnected (as true does); false, where redis-py raises TimeoutError, is not supported',
    true,
    null,
  ),
  redis_socket_connect_timeout: H(
    "client and worker: the result backend's connect timeout (ioredis connectTimeout, TLS handshake included); socket_connect_timeout in the result_backend URL wins",
  ),
  redis_socket_keepalive: H(
    "client and worker: TCP keep-alive on the result backend's sockets, true on, false off (unset: ioredis's default, on); socket_keepalive in the URL wins",
  ),
  redis_socket_timeout: H(
    "client and worker: a result backend command without a reply that long drops the connection (ioredis socketTimeout), which reconnects and resends it; a subscriber's idle wait is not timed; socket_timeout in the URL wins",
  ),
  redis_username: OLD_HOST,
  result_accept_content: H('client: serializers of results it reads (else accept_content)'),
  result_backend: H(
    "client and worker: the Redis result backend (one URL, sentinel://, or a ';' failover list as for broker_url, tried round-robin; Celery 5.2's own Redis backend reads one URL, so the agent renders Python's config with the first)",
  ),
  result_backend_always_retry: H(
    "client and worker: a result store, read, wait (get), forget or group/chord-size write that fails because Redis did not serve it (not an error reply) is retried with Celery's backoff (full jitter); chord part counting is not retried (not idempotent); note that Celery 5.2's own Redis backend retries nothing (it has no exception_safe_to_retry)",
  ),
  result_backend_base_sleep_between_retries_ms: H(
    'client and worker: the backoff factor of result_backend_always_retry (sleep up to base * 2^retries ms)',
  ),
  result_backend_max_retries: H(
    'client and worker: most retries of one backend operation under result_backend_always_retry (default no bound), then RESULT_BACKEND_UNAVAILABLE saying it gave up after N retries',
  ),
  result_backend_max_sleep_between_retries_ms: H(
    'client and worker: the cap of the result_backend_always_retry sleeps (ms)',
  ),
  result_backend_transport_options: H(
    'client and worker: master_name and sentinel_kwargs (password, username; ssl and ssl_* for TLS to the sentinels) of a sentinel:// result_backend',
    'urls',
  ),
  result_cache_max: M("a cache of result objects in Celery's client; an AsyncResult here keeps its own ready result"),
  // Checked against the canvas work: chords join with the Redis backend's native join; celery.chord_unlock
  // (served for Python producers) retries at result_chord_retry_interval.
  result_chord_join_timeout: U('chord joins are not bounded by this timeout', 3),
  result_chord_retry_interval: H('worker: the retry interval of celery.chord_unlock', 'canvas'),
  result_compression: H(
    'client and worker: as in Celery 5.2, the compression of the task messages they send when task_compression is not set (results are stored uncompressed, as Celery stores them)',
  ),
  result_exchange: M('an exchange of the rpc:// and amqp:// result backends; Redis results are keys'),
  result_exchange_type: M('an exchange of the rpc:// and amqp:// result backends; Redis results are keys'),
  result_expires: H('worker: time to live of stored results'),
  result_extended: H('worker: stores name, args, kwargs, worker, retries and queue with each result'),
  result_persistent: M('the AMQP delivery mode of result messages; Redis results are keys'),
  result_serializer: H('worker: the format results are stored in (json or msgpack)'),
  s3_access_key_id: OTHER_BACKEND('S3'),
  s3_base_path: OTHER_BACKEND('S3'),
  s3_bucket: OTHER_BACKEND('S3'),
  s3_endpoint_url: OTHER_BACKEND('S3'),
  s3_region: OTHER_BACKEND('S3'),
  s3_secret_access_key: OTHER_BACKEND('S3'),
  security_cert_store: SECURITY,
  security_certificate: SECURITY,
  security_digest: U(
    "message signing (the auth serializer) is not implemented; sign nothing or use Python's security setup",
    'sha256',
  ),
  security_key: SECURITY,
  task_acks_late: H('worker: ack after the task ran instead of before'),
  task_acks_on_failure_or_timeout: H(
    "worker: with acks_late, false rejects the message of a task that failed or hit its hard time limit without requeue, as Celery's Request.on_failure does: it is moved to the dead-letter list (reason task_failed) and task-rejected is sent, FAILURE is stored; true (the default) acks it",
  ),
  task_always_eager: H(
    "client: delay/applyAsync/applyMany of a task registered on this app run it in the calling process (as Celery's Task.apply: params mapping, bind ctx, no countdown, eta or time limits) and resolve to an EagerResult, ready at once, nothing sent or stored; sendTask by name still sends, with a warning (Celery's AlwaysEagerIgnored); signatures and the canvas still go through the broker; link/link_error and ctx.retry() are refused eagerly",
  ),
  task_annotations: H('client and worker: per-task options (rate_limit, time limits, acks_late, ...)'),
  task_compression: H(
    'client and worker: task messages they send are compressed as kombu does ("zlib" or its alias "gzip", header application/x-gzip; "lzma" or "xz", application/x-lzma, written in the .lzma format Python\'s lzma.decompress reads, by @napi-rs/lzma 1.4 (native, fast, but it compresses far less than Python: about 2:1 on repetitive JSON where Python gets 27:1, so prefer zlib when size matters); "brotli" too, which Debian\'s Python lacks); "bzip2" is refused for sending by name (no well-kept bzip2 encoder for Node), but bzip2 messages from Python are read, as are lzma (.xz) ones',
  ),
  task_create_missing_queues: H('client and worker: unknown queues are created, or refused when false', 'routing'),
  task_default_delivery_mode: M(
    "Redis keeps every message until it is taken; kombu's Redis transport ignores the delivery mode too",
  ),
  task_default_exchange: H('client: exchange of messages routed to no declared queue', 'routing'),
  task_default_exchange_type: H('client: type of the default exchange', 'routing'),
  task_default_priority: H('client: priority of messages of registered tasks that give none'),
  task_default_queue: H('client and worker: the queue of unrouted tasks, and the queue a worker consumes without -Q'),
  task_default_queue_type: H(
    "RabbitMQ (Celery 5.5's setting): 'quorum' declares the default queue as a quorum queue (x-queue-type), consumed with per-consumer qos (a consumer whose window holds eta messages is started again, so they never fill it); refused with task_queue_max_priority; Redis ignores it. Celery 5.5's native delayed delivery: the worker moves an eta beyond celeriac_eta_horizon into it, acked (any queue type and exchange type); the client publishes eta messages to their queue as Celery 5.2 does",
  ),
  task_default_rate_limit: H('worker: rate limit of every task that sets none itself (nor in task_annotations)'),
  task_default_routing_key: H('client: routing key of messages routed to no declared queue', 'routing'),
  task_eager_propagates: H(
    'client: with task_always_eager, a task that fails rejects delay/applyAsync with its own error instead of giving a FAILURE EagerResult',
  ),
  task_ignore_result: H('client and worker: store no results unless a task says otherwise'),
  task_inherit_parent_priority: H(
    "client and worker: a task sent from inside a running task (delay/applyAsync/sendTask) gets that task's delivery priority unless the call or the task's own options give one, and its link callbacks and chain steps go out with it, as Celery's send_task and tracer do (Celery 5.2 inherits only through send_task: Task.apply_async always passes its own priority)",
  ),
  task_protocol: U('Celeriac sends task protocol 2 (and reads 1 and 2)', 2),
  task_publish_retry: H(
    'client (and worker follow-ups): a publish that fails on a connection error is retried as task_publish_retry_policy says; false fails it at once',
  ),
  task_publish_retry_policy: H(
    "client: max_retries (null: forever), interval_start, interval_step, interval_max (s) of publish retries, as kombu's retry_over_time; the last connection error (BrokerUnavailableError) is thrown when they are spent",
  ),
  task_queue_max_priority: H(
    "RabbitMQ: the x-max-priority of every declared queue (refused with quorum queues); on Redis, priorities are kombu's priority steps",
  ),
  task_queues: H('client and worker: declared queues with their exchanges and routing keys', 'routing'),
  task_reject_on_worker_lost: H(
    "worker, with acks_late: false stores FAILURE (billiard's WorkerLostError) for a task whose worker died while running it, instead of running it again; true or unset runs it again (Celeriac's default, as Celery when a whole worker dies), up to celeriac_redelivery_limit",
  ),
  task_remote_tracebacks: M(
    'a Python-side display option (tblib); Celeriac always stores the traceback with a failure',
  ),
  task_routes: H('client: queue, priority and routing of each task'),
  task_send_sent_event: H('client: sends task-sent events'),
  task_serializer: H('client: the body serializer of task messages (json or msgpack)'),
  task_soft_time_limit: H('client (timelimit header) and worker: the soft time limit'),
  task_store_eager_result: U(
    'the result of a task run eagerly (task_always_eager) stays in its EagerResult; it is not stored in the result backend',
    false,
  ),
  task_store_errors_even_if_ignored: H(
    'worker: a task whose results are ignored (ignore_result on the task, the call or task_ignore_result) still stores its FAILURE',
  ),
  task_time_limit: H('client (timelimit header) and worker: the hard time limit'),
  task_track_started: H('worker: stores STARTED when a task begins'),
  timezone: M('Celeriac has no beat scheduler and sends dates in UTC with an explicit offset'),
  worker_agent: CLASS_PATH,
  worker_autoscaler: CLASS_PATH,
  worker_cancel_long_running_tasks_on_connection_loss: U(
    'running tasks are never cancelled when the broker connection is lost (as with false): Celery cancels acks_late tasks because their unacked messages are redelivered once its channel is gone, while a Celeriac worker keeps its held messages leased in Redis across the reconnect and acks them afterwards, so they are not redelivered and there is no duplicate run to prevent',
    false,
  ),
  worker_concurrency: H('worker: tasks running at once (-c wins)'),
  worker_consumer: CLASS_PATH,
  // Checked against the delivery-dedupe work (duplicate-check.ts): the check is always on.
  worker_deduplicate_successful_tasks: U(
    'a redelivered message whose task already has a final result stored is always acked without running again (as with true); it cannot be turned off',
    true,
  ),
  worker_detect_quorum_queues: H(
    "RabbitMQ (Celery 5.5's setting): quorum queues are always consumed with per-consumer qos, eta messages moved out of the windows by restarting the consumer; false with a quorum queue is refused at start (AMQP_QUEUE_CONFLICT)",
  ),
  worker_direct: U('workers do not consume a queue of their own (<node name>.dq)', false),
  worker_disable_rate_limits: H(
    'worker: no rate limit applies (rate_limit, task_annotations, task_default_rate_limit)',
  ),
  worker_enable_remote_control: U('remote control (celery inspect/control) is always on', true),
  worker_hijack_root_logger: PYTHON_LOGGING,
  worker_log_color: PYTHON_LOGGING,
  worker_log_format: PYTHON_LOGGING,
  worker_lost_wait: PREFORK,
  worker_max_memory_per_child: H(
    'worker program: above this RSS (KiB) after a task it stops warm and is replaced (by the agent, or by re-executing itself)',
  ),
  worker_max_tasks_per_child: H(
    'worker program: after this many tasks (counted over the whole program, which is the one process running all its concurrency; tasks already running finish) it starts no more, hands back what it prefetched, stops warm and is replaced (by the agent at once, exit code 75, or by re-executing itself when alone)',
  ),
  worker_pool: PREFORK,
  worker_pool_putlocks: PREFORK,
  worker_pool_restarts: PREFORK,
  worker_prefetch_multiplier: H(
    'worker: prefetch limit = concurrency × multiplier (0: no limit, as Celery); pool_grow / pool_shrink move it with the pool',
  ),
  worker_proc_alive_timeout: PREFORK,
  worker_redirect_stdouts: M(
    'task output is not captured: console output of tasks goes to the worker program’s stdout',
  ),
  worker_redirect_stdouts_level: M(
    'task output is not captured: console output of tasks goes to the worker program’s stdout',
  ),
  worker_send_task_events: H('worker: sends task events from the start (as -E)'),
  worker_state_db: M('revokes are kept in Redis for the whole fleet (celeriac_revoked_key), so there is no state file'),
  worker_task_log_format: PYTHON_LOGGING,
  worker_timer: CLASS_PATH,
  worker_timer_precision: M("the Python worker's timer precision; Celeriac's timers are Node's"),
  celeriac_eta_horizon: H(
    "worker: an eta further away goes to the broker's delayed set (Redis) or into Celery 5.5's native delayed delivery, acked (RabbitMQ: celery_delayed_27 … 0, whole seconds; back in its queue up to 1 s early, the worker holds the rest), so no message stays unacked past consumer_timeout",
  ),
  celeriac_eta_max_held: H(
    'worker: most eta messages held in memory, the others go to the delayed set (Redis) or the native delayed delivery (RabbitMQ)',
  ),
  celeriac_delayed_poll_interval: H('worker: how often due delayed messages return to their queues'),
  celeriac_redelivery_limit: REDIS_ONLY(
    'worker: restores after crashes before a message is dead-lettered',
    "not applied: a classic queue keeps no delivery count, so a message whose worker dies is delivered again without limit, as with Celery (a quorum queue's x-delivery-limit is RabbitMQ's own)",
    0,
  ),
  celeriac_dead_letter_max_entries: H(
    'worker: cap of the dead-letter list, the oldest dropped (Redis: the list trimmed; RabbitMQ: x-max-length with overflow drop-head on celeriac.dead-letter, and a queue declared before with other arguments is logged broker.dead_letter_cap_not_applied)',
  ),
  celeriac_dead_letter_max_raw_bytes: H('worker: raws above this are dead-lettered truncated'),
  celeriac_revoked_key: H('worker: the revoke set checked for delayed messages'),
  celeriac_strict_settings: H('client and worker: refuse unsupported and unknown settings instead of warning'),
  celeriac_fleet_limits: H('worker: fleet-wide limits per queue and per task, live', 'fleet'),
  celeriac_broker_wait_replicas: {
    ...REDIS_ONLY(
      'client and worker: every publish waits (Redis WAIT) for this many replicas',
      "not applied: every publish waits for RabbitMQ's confirm, which for a quorum queue means a majority of its replicas; a classic queue has one copy",
      0,
    ),
    by: 'urls',
  },
  celeriac_broker_wait_timeout: H(
    'client and worker: how long a publish waits for celeriac_broker_wait_replicas',
    'urls',
  ),
});

/** Every setting name the table knows (Celery's, the later Celery ones Celeriac reads, and Celeriac's). */
export const KNOWN_SETTING_NAMES: ReadonlySet<string> = new Set([
  ...CELERY_SETTING_NAMES,
  ...LATER_CELERY_SETTING_NAMES,
  ...CELERIAC_SETTING_NAMES,
]);

/** The status of one (lowercase) setting, or undefined for a name neither Celery nor Celeriac knows. */
export function settingStatus(name: string): SettingStatusEntry | undefined {
  return Object.hasOwn(SETTING_STATUS, name) ? SETTING_STATUS[name] : undefined;
}
