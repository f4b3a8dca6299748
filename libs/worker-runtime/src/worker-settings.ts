import { isAmqpUrl } from '@celeriac/broker-amqp';
import type { Logger } from '@celeriac/logger';
import type { Serializer } from '@celeriac/protocol';
import { RedisUrlError, redisUrlFromSettings } from '@celeriac/redis-connection/url';
import { ResultBackendArgumentError, resultBackendRetryFromSettings } from '@celeriac/result-backend';
import { WorkerError } from './errors.js';
import { resultSerializerSetting } from './result-document.js';

/** The Celery settings the worker reads, resolved once at start. */
export interface WorkerSettings {
  brokerUrl: string;
  resultBackendUrl: string | null;
  accept: string[];
  acksLate: boolean;
  trackStarted: boolean;
  resultExtended: boolean;
  ignoreResult: boolean;
  timeLimitSec: number | null;
  softTimeLimitSec: number | null;
  prefetchMultiplier: number;
  visibilityTimeoutMs: number;
  resultExpiresSec: number;
  /**
   * `result_serializer`: `json` (default) or `msgpack`, the format results are stored in; anything
   * else is `WORKER_BAD_SETTING` here, before the worker connects.
   */
  resultSerializer: Serializer;
  annotations: Record<string, Record<string, unknown>>;
  /** `celeriac_eta_horizon` (s): an eta further away goes to the broker's delayed set. */
  etaHorizonMs: number;
  /** `celeriac_eta_max_held`: most eta messages held in memory; more go to the delayed set. */
  etaMaxHeld: number;
  /** `celeriac_delayed_poll_interval` (s): how often due delayed messages are moved back to their queues. */
  delayedPollMs: number;
  /** `celeriac_redelivery_limit`: restores after crashes a message may have before it is dead-lettered (0 = none). */
  redeliveryLimit: number;
  /** `celeriac_dead_letter_max_entries`: cap of the dead-letter list. */
  deadLetterMaxEntries: number;
  /** `celeriac_dead_letter_max_raw_bytes`: raws above this are stored truncated (with size and sha256). */
  deadLetterMaxRawBytes: number;
  /**
   * `celeriac_revoked_key`: the fleet's revoke set (a set, sorted set or hash of task ids; default
   * `celeriac.revoked`, the control plane's); delayed messages of revoked tasks are dropped with
   * REVOKED when due. `''` or null: no check.
   */
  revokedKey: string | null;
  /**
   * `task_reject_on_worker_lost`: false stores FAILURE (WorkerLostError) for an acks_late task
   * whose worker died while running it, instead of running it again; true or unset runs it again.
   */
  rejectOnWorkerLost: boolean | null;
  /** `worker_max_tasks_per_child`: after this many tasks the worker stops warm to be replaced (null: never). */
  maxTasksPerChild: number | null;
  /** `worker_max_memory_per_child` (KiB): above this RSS after a task the worker stops warm to be replaced (null: never). */
  maxMemoryPerChildKiB: number | null;
  /**
   * `result_backend_always_retry`, `result_backend_max_retries` (null: no bound),
   * `result_backend_base_sleep_between_retries_ms`, `result_backend_max_sleep_between_retries_ms`:
   * the result backend's own retry of stores and reads when Redis does not serve them.
   */
  resultBackendRetry: { always: boolean; maxRetries: number; baseSleepMs: number; maxSleepMs: number };
  /**
   * `broker_connection_retry` / `broker_connection_max_retries` (null or unset: 100, Celery's
   * default; 0: no retry): how the worker connects at start (see broker-connection-retry.ts).
   */
  brokerConnectionRetry: { retry: boolean; maxRetries: number | null };
}

/** The control plane's shared revoke set (libs/control-plane `revokedKey()`, sorted set of task ids). */
const DEFAULT_REVOKED_KEY = 'celeriac.revoked';

/** Longest default eta horizon; the default is this or a quarter of the visibility timeout, whichever is smaller. */
const MAX_DEFAULT_ETA_HORIZON_MS = 60_000;

/** Defaults of the delivery-guarantee settings (`celeriac_*`). */
export const DELIVERY_DEFAULTS = {
  etaMaxHeld: 10_000,
  delayedPollMs: 250,
  redeliveryLimit: 5,
  deadLetterMaxEntries: 10_000,
  deadLetterMaxRawBytes: 64 * 1024,
} as const;

function numberSetting(
  settings: Record<string, unknown>,
  name: string,
  fallback: number,
  options: { integer?: boolean; min?: number } = {},
): number {
  const value = settings[name];
  if (value === undefined || value === null) return fallback;
  const min = options.min ?? 0;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (options.integer && !Number.isInteger(value))
  ) {
    throw new WorkerError(
      'WORKER_BAD_SETTING',
      `Setting ${name} must be ${options.integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** The result backend retry settings, read as the client reads them (a bad value is WORKER_BAD_SETTING). */
function resultBackendRetryOf(settings: Record<string, unknown>): WorkerSettings['resultBackendRetry'] {
  try {
    return resultBackendRetryFromSettings(settings);
  } catch (error) {
    if (error instanceof ResultBackendArgumentError) throw new WorkerError('WORKER_BAD_SETTING', `${error.message}.`);
    throw error;
  }
}

const DEFAULT_VISIBILITY_TIMEOUT_SEC = 3600;
const DEFAULT_RESULT_EXPIRES_SEC = 86400;

function positiveNumberOrNull(settings: Record<string, unknown>, name: string): number | null {
  const value = settings[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new WorkerError(
      'WORKER_BAD_SETTING',
      `Setting ${name} must be a number of seconds ≥ 0, got ${JSON.stringify(value)}.`,
    );
  }
  return value === 0 ? null : value;
}

/** An integer ≥ 1, or null when unset (Celery's None, and 0, mean no limit). */
function positiveIntegerOrNull(settings: Record<string, unknown>, name: string): number | null {
  const value = settings[name];
  if (value === undefined || value === null || value === 0) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new WorkerError(
      'WORKER_BAD_SETTING',
      `Setting ${name} must be an integer ≥ 1, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function booleanSetting(settings: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = settings[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw new WorkerError('WORKER_BAD_SETTING', `Setting ${name} must be true or false, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Celery's defaults for `broker_connection_max_retries`. */
const DEFAULT_BROKER_CONNECTION_MAX_RETRIES = 100;

/** `celeriac_revoked_key`: unset is the control plane's set; `''` or null none; anything but a string refused. */
function revokedKeySetting(value: unknown): string | null {
  if (value === undefined) return DEFAULT_REVOKED_KEY;
  if (value === null || value === '') return null;
  if (typeof value !== 'string') {
    throw new WorkerError(
      'WORKER_BAD_SETTING',
      `Setting celeriac_revoked_key must be a Redis key name, "" or null, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/**
 * The broker and result backend URLs with their transport options (master_name) and TLS dicts
 * folded in, read by the one parser of @celeriac/redis-connection (WORKER_BAD_SETTING otherwise).
 */
function foldedUrls(settings: Record<string, unknown>): { brokerUrl: string; resultBackendUrl: string | null } {
  try {
    // A RabbitMQ broker is read by @celeriac/broker-amqp; results stay on the Redis result backend,
    // and without one they are not stored (Celery's DisabledBackend).
    if (isAmqpUrl(settings.broker_url)) {
      const hasBackend = settings.result_backend !== undefined && settings.result_backend !== null;
      return {
        brokerUrl: settings.broker_url,
        resultBackendUrl: hasBackend ? redisUrlFromSettings('result_backend', settings) : null,
      };
    }
    return {
      brokerUrl: redisUrlFromSettings('broker', settings),
      resultBackendUrl: redisUrlFromSettings('result_backend', settings),
    };
  } catch (error) {
    if (error instanceof RedisUrlError) throw new WorkerError('WORKER_BAD_SETTING', error.message);
    throw error;
  }
}

/** Reads Celery settings (lowercase names, as `app.conf.settings` holds them) for the worker. */
export function readWorkerSettings(settings: Record<string, unknown>): WorkerSettings {
  const brokerUrl = settings.broker_url;
  if (typeof brokerUrl !== 'string' || brokerUrl === '') {
    throw new WorkerError('WORKER_NO_BROKER_URL', 'No broker_url is set: pass it to new Celeriac(...) or in --config.');
  }
  const urls = foldedUrls(settings);
  const accept = Array.isArray(settings.accept_content)
    ? settings.accept_content.filter((v): v is string => typeof v === 'string')
    : ['json'];
  const transport = (settings.broker_transport_options ?? {}) as Record<string, unknown>;
  const visibilitySec =
    typeof transport.visibility_timeout === 'number' && transport.visibility_timeout > 0
      ? transport.visibility_timeout
      : DEFAULT_VISIBILITY_TIMEOUT_SEC;
  const visibilityTimeoutMs = visibilitySec * 1000;
  const revokedKey = settings.celeriac_revoked_key;
  const multiplier = settings.worker_prefetch_multiplier;
  const expires = settings.result_expires;
  const annotations = settings.task_annotations;
  return {
    // Like the client: without result_backend, results go to the broker's Redis so get() works.
    ...urls,
    accept,
    acksLate: settings.task_acks_late === true,
    trackStarted: settings.task_track_started === true,
    resultExtended: settings.result_extended === true,
    ignoreResult: settings.task_ignore_result === true,
    timeLimitSec: positiveNumberOrNull(settings, 'task_time_limit'),
    softTimeLimitSec: positiveNumberOrNull(settings, 'task_soft_time_limit'),
    // 0 is Celery's "no prefetch limit" (qos 0): PoolSize makes the limit infinite.
    prefetchMultiplier: typeof multiplier === 'number' && multiplier >= 0 ? Math.floor(multiplier) : 4,
    visibilityTimeoutMs,
    resultExpiresSec: typeof expires === 'number' && expires > 0 ? expires : DEFAULT_RESULT_EXPIRES_SEC,
    resultSerializer: resultSerializerSetting(settings),
    annotations:
      annotations !== null && typeof annotations === 'object' && !Array.isArray(annotations)
        ? (annotations as Record<string, Record<string, unknown>>)
        : {},
    etaHorizonMs:
      numberSetting(
        settings,
        'celeriac_eta_horizon',
        Math.min(MAX_DEFAULT_ETA_HORIZON_MS, visibilityTimeoutMs / 4) / 1000,
      ) * 1000,
    etaMaxHeld: numberSetting(settings, 'celeriac_eta_max_held', DELIVERY_DEFAULTS.etaMaxHeld, { integer: true }),
    delayedPollMs:
      numberSetting(settings, 'celeriac_delayed_poll_interval', DELIVERY_DEFAULTS.delayedPollMs / 1000, { min: 0.01 }) *
      1000,
    redeliveryLimit: numberSetting(settings, 'celeriac_redelivery_limit', DELIVERY_DEFAULTS.redeliveryLimit, {
      integer: true,
    }),
    deadLetterMaxEntries: numberSetting(
      settings,
      'celeriac_dead_letter_max_entries',
      DELIVERY_DEFAULTS.deadLetterMaxEntries,
      { integer: true },
    ),
    deadLetterMaxRawBytes: numberSetting(
      settings,
      'celeriac_dead_letter_max_raw_bytes',
      DELIVERY_DEFAULTS.deadLetterMaxRawBytes,
      { integer: true },
    ),
    revokedKey: revokedKeySetting(revokedKey),
    rejectOnWorkerLost:
      typeof settings.task_reject_on_worker_lost === 'boolean' ? settings.task_reject_on_worker_lost : null,
    maxTasksPerChild: positiveIntegerOrNull(settings, 'worker_max_tasks_per_child'),
    maxMemoryPerChildKiB: positiveIntegerOrNull(settings, 'worker_max_memory_per_child'),
    resultBackendRetry: resultBackendRetryOf(settings),
    brokerConnectionRetry: {
      retry: booleanSetting(settings, 'broker_connection_retry', true),
      maxRetries:
        settings.broker_connection_max_retries === null
          ? null
          : numberSetting(settings, 'broker_connection_max_retries', DEFAULT_BROKER_CONNECTION_MAX_RETRIES, {
              integer: true,
            }),
    },
  };
}

/** What `reportCelerySettings` gives (the client's `conf.report()`), as the worker reads it. */
interface SettingsReportLike {
  issues: { path: string; message: string }[];
  notices: { setting: string; kind: string; reason: string }[];
  strict: boolean;
}

/** The conf calls the worker uses when the app is a Celeriac app (a structural app may lack them). */
interface ReportingConf {
  report?(): SettingsReportLike;
  takeUnreported?(): Pick<SettingsReportLike, 'issues' | 'notices'>;
}

/**
 * At start: one `worker.setting_not_honoured` warning per unsupported or unknown setting (each
 * once per app: the client does not repeat it), and `WORKER_BAD_SETTING` for values the schema
 * refuses, or for any such setting when `celeriac_strict_settings` is on. See docs/settings.md.
 */
export function checkWorkerSettings(
  conf: { readonly settings: Record<string, unknown> } & ReportingConf,
  logger: Logger,
  report: (settings: Record<string, unknown>) => SettingsReportLike,
): void {
  const full = typeof conf.report === 'function' ? conf.report() : report(conf.settings);
  const fresh = typeof conf.takeUnreported === 'function' ? conf.takeUnreported() : full;
  if (full.issues.length > 0) {
    throw new WorkerError(
      'WORKER_BAD_SETTING',
      `Invalid settings:\n${full.issues.map((i) => `- ${i.path}: ${i.message}`).join('\n')}`,
    );
  }
  if (full.strict && full.notices.length > 0) {
    throw new WorkerError(
      'WORKER_BAD_SETTING',
      `Settings refused (celeriac_strict_settings is on, see docs/settings.md):\n${full.notices
        .map((n) => `- ${n.setting}: ${n.kind === 'unsupported' ? 'not supported: ' : ''}${n.reason}`)
        .join('\n')}`,
    );
  }
  for (const n of fresh.notices) {
    logger.warn(
      { event: 'worker.setting_not_honoured', setting: n.setting, reason: n.reason, kind: n.kind },
      n.kind === 'unsupported'
        ? `Setting ${n.setting} is not supported: ${n.reason}`
        : `Setting ${n.setting} is ${n.reason}`,
    );
  }
}

/**
 * With acks_late and `task_reject_on_worker_lost: false`, a worker that dies while running the task
 * fails it instead of running it again: its start is recorded (the broker's started set) so the
 * restore counts the death, and the redelivered copy stores FAILURE (WorkerLostError).
 */
export function failsOnWorkerLost(job: { plan: { acksLate: boolean } }, settings: WorkerSettings): boolean {
  return job.plan.acksLate && settings.rejectOnWorkerLost === false;
}
