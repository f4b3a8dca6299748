import { ConfigRenderError } from './errors.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * Renders a `command` program's config template: every `{{path.to.value}}` is replaced by that
 * value of `context` (strings as they are, numbers and booleans as text, objects and arrays as
 * JSON). A placeholder that names nothing is an error listing every missing path, never an
 * empty string silently.
 */
export function renderTemplate(template: string, context: Record<string, unknown>): string {
  const missing = new Set<string>();
  const out = template.replace(PLACEHOLDER, (_match, key: string) => {
    const value = lookup(context, key);
    if (value === undefined) {
      missing.add(key);
      return '';
    }
    if (value === null) return '';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  });
  if (missing.size > 0) {
    throw new ConfigRenderError(
      `config template names settings that do not exist: ${[...missing].join(', ')}; fix the template or add the settings`,
    );
  }
  return out;
}

/** Replaces `{{path}}` placeholders in each argument of a command line the same way. */
export function renderArgv(argv: readonly string[], context: Record<string, unknown>): string[] {
  return argv.map((arg) => renderTemplate(arg, context));
}

function lookup(context: Record<string, unknown>, key: string): unknown {
  let value: unknown = context;
  for (const part of key.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
