import { isCeleriacSetting } from './celeriac-settings.js';
import type { CelerySettings } from './celery-settings-schema.js';
import { withCeleryWorkerDefaults } from './celery-worker-defaults.js';
import { canonicalJson } from './content-hash.js';
import type { EffectiveConfig } from './effective-config-schema.js';
import { fleetLimitsOf, withoutFleetLimits } from './fleet-limit-settings.js';
import { isPlainObject } from './merge-layers.js';
import type { ProgramState } from './node-status-schema.js';
import type { Program } from './program-schema.js';
import { settingStatus } from './setting-status.js';

/** What the agent must do with one program after a config change. */
export type ChangeAction = 'start' | 'restart' | 'stop' | 'scale' | 'none';

/** The action for one program and the human reasons for it (logged and reported). */
export interface ProgramChange {
  action: ChangeAction;
  reasons: string[];
}

/** Celery settings a celeriac worker reads besides every broker_*, result_*, task_* and celeriac_* key. */
const CELERIAC_WORKER_SETTINGS = new Set([
  'accept_content',
  'worker_concurrency',
  'worker_prefetch_multiplier',
  'worker_disable_rate_limits',
  'worker_send_task_events',
  'timezone',
  'enable_utc',
]);
const CELERIAC_WORKER_PREFIXES = ['broker_', 'result_', 'task_', 'celeriac_'];

/**
 * Whether a celeriac worker gets a setting in its config file: the keys above, and every other one
 * that is not `meaningless` (docs/settings.md): honoured ones (worker_max_tasks_per_child, ...), and
 * unsupported or unknown ones, so that the worker warns about each (or refuses them, strict).
 */
function celeriacWorkerReads(key: string): boolean {
  if (CELERIAC_WORKER_SETTINGS.has(key) || CELERIAC_WORKER_PREFIXES.some((prefix) => key.startsWith(prefix)))
    return true;
  return settingStatus(key)?.status !== 'meaningless';
}

/** Program fields whose change needs a new process. */
const RESTART_FIELDS = [
  'kind',
  'app',
  'queues',
  'concurrency',
  'env',
  'command',
  'config_template',
  'config_file',
  'loglevel',
] as const;
/** Program fields the supervisor reads when it needs them: a change applies without a restart. */
const LIVE_FIELDS = ['stop_timeout', 'ready_timeout'] as const;

/** The fields of a program that decide which Celery settings it reads. */
type ProgramSettingsView = Pick<Program, 'kind' | 'config_template' | 'command'>;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The `{{path}}` placeholders of a command program's template and argv. */
function templateReferences(program: ProgramSettingsView): string[][] {
  const refs: string[][] = [];
  for (const text of [program.config_template ?? '', ...(program.command ?? [])]) {
    for (const match of text.matchAll(PLACEHOLDER)) refs.push((match[1] as string).split('.'));
  }
  return refs;
}

/** The `celery.<key>` names a command program refers to; `all` when it uses `{{celery}}` whole. */
function templateCeleryKeys(program: ProgramSettingsView): Set<string> | 'all' {
  const keys = new Set<string>();
  for (const [head, key] of templateReferences(program)) {
    if (head !== 'celery') continue;
    if (key === undefined) return 'all';
    keys.add(key);
  }
  return keys;
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) {
    if (!isPlainObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** Values a command's template takes from other parts of the config (`{{programs.workers.queues}}`, `{{groups}}`). */
function templateConfigChanges(program: Program, before: EffectiveConfig, after: EffectiveConfig): string[] {
  const reasons: string[] = [];
  const seen = new Set<string>();
  for (const ref of templateReferences(program)) {
    if (ref[0] !== 'programs' && ref[0] !== 'groups') continue;
    const name = ref.join('.');
    if (seen.has(name)) continue;
    seen.add(name);
    const old = lookup(before, ref);
    const now = lookup(after, ref);
    if (!same(old, now)) reasons.push(describe(`template value ${name}`, old, now));
  }
  return reasons;
}

/**
 * The Celery settings that matter to one program: every setting but Celeriac's own `celeriac_*`
 * for a Python Celery worker, the
 * settings Celeriac workers read for a celeriac-worker, and the settings its template refers to for a
 * command. A change outside this set never restarts the program.
 */
export function celerySettingsForProgram(
  program: ProgramSettingsView,
  celery: CelerySettings,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const templateKeys = program.kind === 'command' ? templateCeleryKeys(program) : 'all';
  for (const [key, value] of Object.entries(celery)) {
    if (value === undefined) continue;
    const relevant =
      (program.kind === 'celery-worker' && !isCeleriacSetting(key)) ||
      (program.kind === 'celeriac-worker' && celeriacWorkerReads(key)) ||
      (program.kind === 'command' && (templateKeys === 'all' || templateKeys.has(key)));
    if (relevant) out[key] = value;
  }
  return out;
}

interface LeafChange {
  path: string[];
  before: unknown;
  after: unknown;
}

function same(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Leaf-level differences; objects (and an object against nothing) are walked, arrays and scalars compared whole. */
function leafChanges(before: unknown, after: unknown, path: string[] = []): LeafChange[] {
  const bothObjects =
    (isPlainObject(before) || before === undefined) &&
    (isPlainObject(after) || after === undefined) &&
    before !== after;
  if (bothObjects) {
    const old = (before ?? {}) as Record<string, unknown>;
    const now = (after ?? {}) as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
    return keys.flatMap((key) => leafChanges(old[key], now[key], [...path, key]));
  }
  return same(before, after) ? [] : [{ path, before, after }];
}

const SECRET_KEY = /pass|secret|token|credential|key$/i;

/** Values for reasons: strings bare, passwords in URLs masked, anything secret-looking hidden. */
function showValue(value: unknown, path: readonly string[]): string {
  if (value === undefined) return 'unset';
  if (path.some((part) => SECRET_KEY.test(part))) return '***';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const masked = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^@/\s"]*:)[^@/\s"]*@/gi, '$1$2***@');
  return masked.length > 80 ? `${masked.slice(0, 77)}...` : masked;
}

const MAX_DETAILS = 3;

/** "task_annotations changed (tasks.add rate_limit 10/m → 10/s)". */
function describe(name: string, before: unknown, after: unknown): string {
  if (before === undefined) return `${name} set (${showValue(after, [name])})`;
  if (after === undefined) return `${name} removed (was ${showValue(before, [name])})`;
  const changes = leafChanges(before, after);
  const details = changes
    .slice(0, MAX_DETAILS)
    .map((change) =>
      [
        ...change.path,
        `${showValue(change.before, [name, ...change.path])} → ${showValue(change.after, [name, ...change.path])}`,
      ].join(' '),
    );
  if (changes.length > MAX_DETAILS) details.push(`and ${changes.length - MAX_DETAILS} more`);
  return `${name} changed (${details.join(', ')})`;
}

function describeEnv(before: Record<string, string> | undefined, after: Record<string, string> | undefined): string {
  const names = leafChanges(before ?? {}, after ?? {}).map((change) => change.path.join('.'));
  return `env changed (${names.join(', ')})`;
}

/** `celeriac_*` changes a Python celery-worker does not read: said, not silent, and no restart. */
function ignoredCeleriacChanges(before: CelerySettings, after: CelerySettings): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(isCeleriacSetting).sort();
  return keys
    .filter((key) => !same(before[key], after[key]))
    .map((key) => `${describe(key, before[key], after[key])}; celery-worker (Python) ignores it, no restart`);
}

/** A change of the fleet limits: applied live by every Celeriac worker (the agent writes them to Redis). */
function fleetLimitChanges(before: CelerySettings, after: CelerySettings): string[] {
  const old = fleetLimitsOf(before);
  const now = fleetLimitsOf(after);
  if (same(old, now)) return [];
  return [`${describe('fleet limits', old, now)}; live, the agent writes them to Redis, no restart`];
}

/** The settings a program's processes run with: a celery-worker's get the agent's defaults (celery-worker-defaults.ts). */
function renderedSettings(program: Program, celery: CelerySettings): CelerySettings {
  return program.kind === 'celery-worker' ? withCeleryWorkerDefaults(celery) : celery;
}

function classifyProgram(name: string, before: EffectiveConfig, after: EffectiveConfig): ProgramChange {
  const old = before.programs[name] as Program;
  const now = after.programs[name] as Program;
  const restart: string[] = [];
  for (const field of RESTART_FIELDS) {
    if (same(old[field], now[field])) continue;
    restart.push(field === 'env' ? describeEnv(old.env, now.env) : describe(field, old[field], now[field]));
  }
  // Fleet limits are live (the agent writes them to Redis): they never restart a program.
  // A Python worker is compared on what its celeryconfig.py holds, the agent's defaults included.
  const oldCelery = celerySettingsForProgram(old, renderedSettings(old, withoutFleetLimits(before.celery)));
  const newCelery = celerySettingsForProgram(now, renderedSettings(now, withoutFleetLimits(after.celery)));
  const keys = [...new Set([...Object.keys(oldCelery), ...Object.keys(newCelery)])].sort();
  for (const key of keys) {
    if (!same(oldCelery[key], newCelery[key])) restart.push(describe(key, oldCelery[key], newCelery[key]));
  }
  if (now.kind === 'command' && old.kind === 'command') restart.push(...templateConfigChanges(now, before, after));
  const replicas = old.replicas === now.replicas ? [] : [`replicas ${old.replicas} → ${now.replicas}`];
  if (restart.length > 0) return { action: 'restart', reasons: [...restart, ...replicas] };
  if (replicas.length > 0) return { action: 'scale', reasons: replicas };
  const live = LIVE_FIELDS.filter((field) => !same(old[field], now[field])).map(
    (field) => `${describe(field, old[field], now[field])}; applies at the next stop or start, no restart`,
  );
  if (now.kind === 'celery-worker') live.push(...ignoredCeleriacChanges(before.celery, after.celery));
  live.push(...fleetLimitChanges(before.celery, after.celery));
  return { action: 'none', reasons: live };
}

/**
 * Decides per program what a change from `before` (null: nothing running yet) to `after` needs:
 * `start`/`stop` for added/removed programs, `restart` when anything the program's processes read
 * changed (its own fields or the Celery settings that matter to its kind), `scale` when only
 * replicas changed, `none` otherwise. Reasons say what changed, e.g.
 * `task_annotations changed (tasks.add rate_limit 10/m → 10/s)`.
 */
export function classifyChange(before: EffectiveConfig | null, after: EffectiveConfig): Record<string, ProgramChange> {
  const result: Record<string, ProgramChange> = {};
  const beforePrograms = before?.programs ?? {};
  const names = [...new Set([...Object.keys(beforePrograms), ...Object.keys(after.programs)])].sort();
  for (const name of names) result[name] = classifyOne(name, before, after);
  return result;
}

function classifyOne(name: string, before: EffectiveConfig | null, after: EffectiveConfig): ProgramChange {
  const old = before?.programs[name];
  const now = after.programs[name];
  if (!now) return { action: 'stop', reasons: ['program removed'] };
  if (!old || !before) return { action: 'start', reasons: [`program added (${now.kind}, ${now.replicas} replicas)`] };
  return classifyProgram(name, before, after);
}

/** What the agent knows of a program it runs, as far as planning a change needs it. */
export interface RunningProgram {
  /**
   * The effective config its processes were started from. Per program, because a program whose
   * rolling restart failed keeps running on an older revision than its neighbours.
   */
  config: EffectiveConfig;
  state: ProgramState;
  /** Its config file was edited on the host and its processes run on that edit. */
  drift: boolean;
  /** sha256 of the config file its processes read. */
  configHash: string;
}

/** Inputs of `planProgramChanges`. */
export interface ProgramChangeInput {
  /** The config to apply. */
  after: EffectiveConfig;
  /** The programs the agent runs now, by name; each carries the config it runs on (the old one). */
  running: Readonly<Record<string, RunningProgram>>;
  /** sha256 of each program's config file as rendered from `after`. */
  configHashes: Readonly<Record<string, string>>;
}

const DRIFT_REPLACED = 'config file had been edited on the host; the center config replaces it';
const FATAL_RETRY = 'program was FATAL; a new revision gives it another start';

/**
 * The restart decision of the agent, for every program it runs or is told to run: `classifyChange`
 * of each program's own old config against the new one, plus what only the supervisor knows. A
 * program running on a hand-edited file restarts onto the center's file when that differs; a
 * FATAL program gets another start from any new revision; a program the agent does not run yet
 * starts. Pure: the agent does the I/O around it.
 */
export function planProgramChanges(input: ProgramChangeInput): Record<string, ProgramChange> {
  const { after, running } = input;
  const plan: Record<string, ProgramChange> = {};
  const names = [...new Set([...Object.keys(running), ...Object.keys(after.programs)])].sort();
  for (const name of names) {
    const current = running[name];
    const change = classifyOne(name, current?.config ?? null, after);
    if (!current || change.action === 'stop') {
      plan[name] = change;
      continue;
    }
    let { action } = change;
    const reasons = [...change.reasons];
    // Running, yet absent from the config it runs on: nothing to compare with, so new processes.
    if (action === 'start') action = 'restart';
    if (action === 'none' || action === 'scale') {
      if (current.drift && input.configHashes[name] !== current.configHash) {
        action = 'restart';
        reasons.push(DRIFT_REPLACED);
      } else if (action === 'none' && current.state === 'fatal') {
        action = 'restart';
        reasons.push(FATAL_RETRY);
      }
    }
    plan[name] = { action, reasons };
  }
  return plan;
}
