import { type Check, checkBoolean, checkInteger, checkNumber, show } from './checks.js';
import { checkFleetLimits, type FleetLimitsSetting } from './fleet-limit-settings.js';
import { isPlainObject } from './merge-layers.js';

/**
 * Settings only Celeriac workers read (issue 8, delivery guarantees), beside Celery's own. A Python
 * `celery-worker` ignores them: validation warns when a config sets them next to such a program, and
 * a change of them restarts only `celeriac-worker` programs.
 */
export interface CeleriacDeliverySettings {
  /** Seconds: an eta further away than this goes to the broker's delayed set (default min(60, visibility timeout / 4)). */
  celeriac_eta_horizon?: number;
  /** Most eta messages a worker holds in memory; more go to the delayed set (default 10,000). */
  celeriac_eta_max_held?: number;
  /** Seconds between moves of due delayed messages back to their queues (default 0.25, at least 0.01). */
  celeriac_delayed_poll_interval?: number;
  /** Restores after worker crashes a message may have before it is dead-lettered (default 5; 0 = no limit). */
  celeriac_redelivery_limit?: number;
  /** Most records the dead-letter list keeps (default 10,000; 0 = no cap). */
  celeriac_dead_letter_max_entries?: number;
  /** Raw entries above this many bytes are dead-lettered truncated, with size and sha256 (default 65,536; 0 = never). */
  celeriac_dead_letter_max_raw_bytes?: number;
  /** The revoke set (set, sorted set or hash of task ids) checked for delayed messages; "" or null: none. */
  celeriac_revoked_key?: string | null;
  /** Refuse unsupported and unknown settings (client: at conf.update; worker: at start) instead of warning. */
  celeriac_strict_settings?: boolean;
  /** Fleet-wide limits per queue and per task (fleet-limit-settings.ts); live, no restart. */
  celeriac_fleet_limits?: FleetLimitsSetting | null;
  /** Every publish waits (Redis WAIT) until this many replicas have it, else fails (default 0 = off). */
  celeriac_broker_wait_replicas?: number;
  /** Seconds one publish waits for celeriac_broker_wait_replicas (default 5). */
  celeriac_broker_wait_timeout?: number;
}

const MIN_DELAYED_POLL_INTERVAL_SEC = 0.01;

const checkPollInterval: Check = (value, add) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MIN_DELAYED_POLL_INTERVAL_SEC) {
    add([], `must be a number of seconds of at least ${MIN_DELAYED_POLL_INTERVAL_SEC}, got ${show(value)}`);
  }
};

const checkRevokedKey: Check = (value, add) => {
  if (value === null) return;
  if (typeof value !== 'string' || value.length > 512) {
    add([], `must be a Redis key name (a string of at most 512 characters), "" or null for none, got ${show(value)}`);
  }
};

const COUNT = Number.MAX_SAFE_INTEGER;

/** How each Celeriac-only setting is checked (the same ranges readWorkerSettings enforces). */
export const CELERIAC_SETTING_CHECKS: Record<keyof CeleriacDeliverySettings, Check> = {
  celeriac_eta_horizon: checkNumber(0, false),
  celeriac_eta_max_held: checkInteger(0, COUNT),
  celeriac_delayed_poll_interval: checkPollInterval,
  celeriac_redelivery_limit: checkInteger(0, COUNT),
  celeriac_dead_letter_max_entries: checkInteger(0, COUNT),
  celeriac_dead_letter_max_raw_bytes: checkInteger(0, COUNT),
  celeriac_revoked_key: checkRevokedKey,
  celeriac_strict_settings: checkBoolean,
  celeriac_fleet_limits: checkFleetLimits,
  celeriac_broker_wait_replicas: checkInteger(0, 100),
  celeriac_broker_wait_timeout: checkNumber(0, true),
};

/** The names of the Celeriac-only settings. */
export const CELERIAC_SETTING_NAMES: ReadonlySet<string> = new Set(Object.keys(CELERIAC_SETTING_CHECKS));

/** True for a setting name only Celeriac workers read (`celeriac_*`). */
export function isCeleriacSetting(name: string): boolean {
  return name.startsWith('celeriac_');
}

/**
 * Warnings for Celeriac-only settings that a `celery-worker` (Python) program of the same document
 * will not honour. A layer names its programs' kinds only when it defines them, so a layer is
 * warned about only for the programs it shows.
 */
export function celeriacOnlyWarnings(doc: Record<string, unknown>, settings: Record<string, unknown>): string[] {
  const set = Object.keys(settings).filter((key) => isCeleriacSetting(key) && settings[key] !== null);
  if (set.length === 0 || !isPlainObject(doc.programs)) return [];
  const python = Object.entries(doc.programs)
    .filter(([, program]) => isPlainObject(program) && program.kind === 'celery-worker')
    .map(([name]) => name)
    .sort();
  if (python.length === 0) return [];
  const programs = `${python.length === 1 ? 'program' : 'programs'} ${python.join(', ')}`;
  return set
    .sort()
    .map(
      (key) =>
        `celery.${key} is read by celeriac-worker programs only; the celery-worker ${programs} (Python Celery) ignore it`,
    );
}
