import { redactSecrets } from '@celeriac/logger';
import { CliError, EXIT } from './cli-errors.js';

/** Prints an error the way every ops command does and returns its exit code. */
export function reportError(command: string, error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (error instanceof CliError) {
    stderr.write(`${command}: ${error.message}\n`);
    for (const line of error.details) stderr.write(`  ${line}\n`);
    return error.exitCode;
  }
  const text = error instanceof Error ? error.message : String(error);
  stderr.write(`${command}: ${redactSecrets(text)}\n`);
  return EXIT.other;
}
