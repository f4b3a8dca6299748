import { isPlainObject } from './merge-layers.js';

/** Reports one problem at a path relative to the value being checked. */
export type AddIssue = (path: readonly (string | number)[], message: string) => void;

/** Checks one value; `layer` is true inside a layer document, where `null` (delete this key) is allowed in objects. */
export type Check = (value: unknown, add: AddIssue, layer: boolean) => void;

/** A short rendering of a value for messages (never for URLs, which may hold passwords). */
export function show(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return Array.isArray(value) ? 'a list' : 'an object';
  }
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export const checkBoolean: Check = (value, add) => {
  if (typeof value !== 'boolean') add([], 'must be true or false');
};

export const checkString: Check = (value, add) => {
  if (typeof value !== 'string' || value.length === 0) add([], 'must be a non-empty string');
};

export function checkInteger(min: number, max: number): Check {
  return (value, add) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      add(
        [],
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer of at least ${min}`
          : `must be an integer from ${min} to ${max}`,
      );
    }
  };
}

export function checkNumber(min: number, exclusiveMin: boolean): Check {
  return (value, add) => {
    const ok = typeof value === 'number' && Number.isFinite(value) && (exclusiveMin ? value > min : value >= min);
    if (!ok) add([], exclusiveMin ? `must be a number greater than ${min}` : `must be a number of at least ${min}`);
  };
}

export function checkStringArray(item: Check, options: { nonEmpty: boolean }): Check {
  return (value, add, layer) => {
    if (!Array.isArray(value)) {
      add([], 'must be a list of strings');
      return;
    }
    if (options.nonEmpty && value.length === 0) add([], 'must list at least one entry');
    value.forEach((entry, index) => {
      item(entry, (path, message) => add([index, ...path], message), layer);
    });
  };
}

export function checkStringMap(what: string): Check {
  return (value, add, layer) => {
    if (!isPlainObject(value)) {
      add([], `must be an object of ${what}`);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === null && layer) continue;
      if (typeof item !== 'string') add([key], 'must be a string');
    }
  };
}

export const checkObject: Check = (value, add) => {
  if (!isPlainObject(value)) add([], 'must be an object');
};

/** Checks the members of an object with one check per known key; other keys are left alone. */
export function checkMembers(known: Record<string, Check>): Check {
  return (value, add, layer) => {
    if (!isPlainObject(value)) {
      add([], 'must be an object');
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      const check = known[key];
      if (!check || item === undefined || (item === null && layer)) continue;
      check(item, (path, message) => add([key, ...path], message), layer);
    }
  };
}
