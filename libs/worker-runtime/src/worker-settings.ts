import { WorkerError } from './errors.js';

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
  annotations: Record<string, Record<string, unknown>>;
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

/** Reads Celery settings (lowercase names, as `app.conf.settings` holds them) for the worker. */
export function readWorkerSettings(settings: Record<string, unknown>): WorkerSettings {
  const brokerUrl = settings.broker_url;
  if (typeof brokerUrl !== 'string' || brokerUrl === '') {
    throw new WorkerError('WORKER_NO_BROKER_URL', 'No broker_url is set: pass it to new Celeriac(...) or in --config.');
  }
  const backend = settings.result_backend;
  const accept = Array.isArray(settings.accept_content)
    ? settings.accept_content.filter((v): v is string => typeof v === 'string')
    : ['json'];
  const transport = (settings.broker_transport_options ?? {}) as Record<string, unknown>;
  const visibilitySec =
    typeof transport.visibility_timeout === 'number' && transport.visibility_timeout > 0
      ? transport.visibility_timeout
      : DEFAULT_VISIBILITY_TIMEOUT_SEC;
  const multiplier = settings.worker_prefetch_multiplier;
  const expires = settings.result_expires;
  const annotations = settings.task_annotations;
  return {
    brokerUrl,
    // Like the client: without result_backend, results go to the broker's Redis so get() works.
    resultBackendUrl: typeof backend === 'string' && backend !== '' ? backend : brokerUrl,
    accept,
    acksLate: settings.task_acks_late === true,
    trackStarted: settings.task_track_started === true,
    resultExtended: settings.result_extended === true,
    ignoreResult: settings.task_ignore_result === true,
    timeLimitSec: positiveNumberOrNull(settings, 'task_time_limit'),
    softTimeLimitSec: positiveNumberOrNull(settings, 'task_soft_time_limit'),
    prefetchMultiplier: typeof multiplier === 'number' && multiplier >= 1 ? Math.floor(multiplier) : 4,
    visibilityTimeoutMs: visibilitySec * 1000,
    resultExpiresSec: typeof expires === 'number' && expires > 0 ? expires : DEFAULT_RESULT_EXPIRES_SEC,
    annotations:
      annotations !== null && typeof annotations === 'object' && !Array.isArray(annotations)
        ? (annotations as Record<string, Record<string, unknown>>)
        : {},
  };
}
