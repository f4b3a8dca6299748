import { readFileSync } from 'node:fs';
import { formatIssues, rolloutPolicySchema } from '@celeriac/config-schema';
import { CliUsageError } from './cli-errors.js';
import { formatOfFile, parseDocument } from './read-document.js';

/**
 * `--rollout <policy>` of a write: `none` (null: no rollout, even if a layer has a default one),
 * a JSON object, or `@<file>` with one in JSON or YAML. Checked here with the center's schema so a
 * typo is a usage error before anything is sent; sent as written (the center parses it again).
 * Undefined when not given: the nearest layer's `default_rollout` applies, if any.
 */
export function parseRolloutOption(value: string | undefined): Record<string, unknown> | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  let policy: unknown;
  if (value.startsWith('@')) {
    const file = value.slice(1);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliUsageError(`--rollout: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    policy = parseDocument(text, file, formatOfFile(file));
  } else policy = parseDocument(value, '--rollout', 'json');
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy))
    throw new CliUsageError(
      '--rollout takes none, a JSON object or @file, e.g. \'{"waves":[{"nodes":1},{"rest":true}]}\'',
    );
  const checked = rolloutPolicySchema.safeParse(policy);
  if (!checked.success) {
    const issues = checked.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new CliUsageError(`--rollout is not a rollout policy (docs/rollouts.md):\n${formatIssues(issues)}`);
  }
  return policy as Record<string, unknown>;
}
