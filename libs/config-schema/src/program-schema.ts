import type { z } from 'zod';
import { checkQueueName } from './celery-settings-schema.js';
import { type AddIssue, type Check, checkInteger, checkStringArray, show } from './checks.js';
import { parseDuration } from './duration.js';
import { isPlainObject } from './merge-layers.js';
import { checked } from './zod-checked.js';

/** What a program runs. */
export const PROGRAM_KINDS = ['celeriac-worker', 'celery-worker', 'command'] as const;
export type ProgramKind = (typeof PROGRAM_KINDS)[number];

const LOG_LEVELS = ['debug', 'info', 'warning', 'warn', 'error', 'critical', 'fatal'];

/** A program as the agent runs it (defaults filled in). */
export interface Program {
  kind: ProgramKind;
  /** celeriac-worker: the tasks module path; celery-worker: the Python app module (`-A`). */
  app?: string;
  queues?: string[];
  replicas: number;
  concurrency?: number;
  env?: Record<string, string>;
  /** Duration such as '30s'; read it with parseDuration. */
  stop_timeout: string | number;
  ready_timeout: string | number;
  /** argv of a `command` program. */
  command?: string[];
  config_template?: string;
  config_file?: string;
  loglevel?: string;
}

/** A program inside a layer: any field may be left out (another layer gives it) or null (removed). */
export type ProgramLayer = { [K in keyof Program]?: Program[K] | null };

export const PROGRAM_DEFAULTS = { replicas: 1, stop_timeout: '30s', ready_timeout: '30s' } as const;

const checkDuration: Check = (value, add) => {
  try {
    if (typeof value !== 'string' && typeof value !== 'number') throw new TypeError();
    parseDuration(value);
  } catch {
    add([], `${show(value)} is not a duration; use a number of seconds or a string like "500ms", "30s", "2m"`);
  }
};

const checkKind: Check = (value, add) => {
  if (typeof value !== 'string' || !(PROGRAM_KINDS as readonly string[]).includes(value)) {
    add([], `${show(value)} is not a program kind; use "celeriac-worker", "celery-worker" or "command"`);
  }
};

const checkApp: Check = (value, add) => {
  if (typeof value !== 'string' || value.trim().length === 0) add([], 'must be a non-empty string');
};

const checkEnv: Check = (value, add, layer) => {
  if (!isPlainObject(value)) {
    add([], 'must be an object of environment variable names to string values');
    return;
  }
  for (const [name, item] of Object.entries(value)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      add([name], 'is not an environment variable name; use letters, digits and "_", not starting with a digit');
    }
    if (item === null && layer) continue;
    if (typeof item !== 'string') add([name], 'must be a string (quote numbers and booleans)');
  }
};

const checkCommand: Check = (value, add) => {
  if (!Array.isArray(value) || value.length === 0 || !value.every((part) => typeof part === 'string')) {
    add([], 'must be a non-empty list of strings (program and arguments), e.g. ["nginx", "-g", "daemon off;"]');
  } else if ((value[0] as string).length === 0) add([0], 'the program to run must not be empty');
};

const checkConfigFile: Check = (value, add) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(value) || value.includes('..')) {
    add([], 'must be a plain file name (letters, digits, "_", ".", "-"; no "/" or ".."), written in the state dir');
  }
};

const checkLogLevel: Check = (value, add) => {
  if (typeof value !== 'string' || !LOG_LEVELS.includes(value.toLowerCase())) {
    add([], `${show(value)} is not a log level; use "debug", "info", "warning", "error" or "critical"`);
  }
};

const FIELD_CHECKS: Record<keyof Program, Check> = {
  kind: checkKind,
  app: checkApp,
  queues: checkStringArray(checkQueueName, { nonEmpty: true }),
  replicas: checkInteger(0, 64),
  concurrency: checkInteger(1, 1024),
  env: checkEnv,
  stop_timeout: checkDuration,
  ready_timeout: checkDuration,
  command: checkCommand,
  config_template: (value, add) => {
    if (typeof value !== 'string') add([], 'must be a string');
  },
  config_file: checkConfigFile,
  loglevel: checkLogLevel,
};

/** Every field a program may have. */
export const PROGRAM_FIELDS = Object.keys(FIELD_CHECKS) as (keyof Program)[];

const FIELD_NAMES = PROGRAM_FIELDS.join(', ');

function checkFields(value: unknown, add: AddIssue, layer: boolean): value is Record<string, unknown> {
  if (!isPlainObject(value)) {
    add(
      [],
      layer
        ? 'must be an object describing the program, or null to remove it'
        : 'must be an object describing the program',
    );
    return false;
  }
  for (const [field, item] of Object.entries(value)) {
    const check = FIELD_CHECKS[field as keyof Program];
    if (!check) {
      add([field], `is not a program field; the fields are ${FIELD_NAMES}`);
      continue;
    }
    if (item === undefined || (item === null && layer)) continue;
    check(item, (path, message) => add([field, ...path], message), layer);
  }
  return true;
}

/** A program inside a layer: known fields only, each well-formed; null removes a field. */
export const checkProgramLayer: Check = (value, add) => {
  checkFields(value, add, true);
};

/** A complete program: the kind's required fields are there. */
export const checkProgram: Check = (value, add) => {
  if (!checkFields(value, add, false)) return;
  const kind = value.kind;
  if (kind === undefined) {
    add(['kind'], 'is required; use "celeriac-worker", "celery-worker" or "command"');
    return;
  }
  if (kind === 'celeriac-worker' && value.app === undefined) {
    add(['app'], 'is required for a celeriac-worker: the module that registers the tasks, e.g. "./tasks.js"');
  }
  if (kind === 'celery-worker') {
    if (value.app === undefined)
      add(['app'], 'is required for a celery-worker: the Python app module given to celery -A, e.g. "proj.tasks"');
    else if (typeof value.app === 'string' && !/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?$/.test(value.app)) {
      add(
        ['app'],
        `${show(value.app)} is not a Python module name; use a dotted name such as "proj.tasks" or "proj.celery:app"`,
      );
    }
  }
  if (kind === 'command' && value.command === undefined) {
    add(
      ['command'],
      'is required for a command program: the program and its arguments, e.g. ["nginx", "-g", "daemon off;"]',
    );
  }
};

/** A complete program definition (effective config); defaults: replicas 1, stop_timeout and ready_timeout "30s". */
export const programSchema: z.ZodType<Program> = checked<Program>(
  checkProgram,
  false,
  'A program the agent runs',
).transform((program) => ({ ...PROGRAM_DEFAULTS, ...program })) as unknown as z.ZodType<Program>;

/** A program inside a layer: fields optional, null removes a field. */
export const programLayerSchema: z.ZodType<ProgramLayer> = checked<ProgramLayer>(
  checkProgramLayer,
  true,
  'A program inside a layer; fields may be left out or set to null to remove them',
);
