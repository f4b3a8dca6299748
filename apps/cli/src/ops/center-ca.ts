import { readFileSync } from 'node:fs';
import { CliUsageError } from './cli-errors.js';

/** The CAs an https:// center is verified against, and where they came from (for messages). */
export interface CenterCa {
  pem: Buffer;
  /** `--ca-file <path>` or `CELERIAC_CA_FILE <path>`. */
  source: string;
}

/**
 * Reads `--ca-file` (else CELERIAC_CA_FILE): PEM certificates that the center's certificate must
 * chain to. Undefined when neither is given (the system CAs are used). A file that cannot be read
 * or holds no certificate is a usage error.
 */
export function readCenterCa(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): CenterCa | undefined {
  const fromFlag = flag !== undefined && flag !== '';
  const file = fromFlag ? flag : env.CELERIAC_CA_FILE || undefined;
  if (file === undefined) return undefined;
  const source = `${fromFlag ? '--ca-file' : 'CELERIAC_CA_FILE'} ${file}`;
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    throw new CliUsageError(
      `cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliUsageError(
      `${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA's certificate file`,
    );
  }
  return { pem, source };
}
