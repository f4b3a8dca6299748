import { redactSecrets } from '@celeriac/logger';
import { CenterRequestError } from './center-client.js';
import { CliError, EXIT } from './cli-errors.js';

/**
 * Prints an error the way every ops command does and returns its exit code: the message, the
 * code to look up in docs/errors.md (the center's own code for a refused request; none for a
 * usage error, whose message says what to type), then one line per field issue.
 */
export function reportError(command: string, error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (error instanceof CliError) {
    const code = error instanceof CenterRequestError ? (error.centerCode ?? error.code) : error.code;
    stderr.write(`${command}: ${error.message}${error.code === 'CLI_USAGE' ? '' : ` [${code}]`}\n`);
    for (const line of error.details) stderr.write(`  ${line}\n`);
    return error.exitCode;
  }
  const text = error instanceof Error ? error.message : String(error);
  stderr.write(`${command}: ${redactSecrets(text)}\n`);
  return EXIT.other;
}
