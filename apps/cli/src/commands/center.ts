import { readFileSync } from 'node:fs';
import { CenterStartError, startCenter } from '@celeriac/config-center';
import { parseDuration } from '@celeriac/config-schema';
import { createLogger, redactSecrets, redactUrl } from '@celeriac/logger';
import { parseCommandArgs, usageError } from '../parse-command-args.js';
import { onStopSignals } from '../stop-signals.js';

const USAGE = `Usage: celeriac center [options]

Runs the config center: layered configs with revisions, long-poll, auth (HTTP API under /v1).

Options:
  --data <dir>              data directory of the file store (default ./data)
  --listen <host:port>      address to listen on (default 127.0.0.1:8700)
  --store <file|redis://..> where revisions live: the embedded file store (default) or a Redis URL
                            shared by several center replicas
  --admin-token-file <f>    file holding the first admin token (else CELERIAC_ADMIN_TOKEN; without
                            either, one is generated at first start and printed once)
  --tls-cert <pem>          serve HTTPS with this certificate (chain); with --tls-key
                            (else CELERIAC_TLS_CERT)
  --tls-key <pem>           the certificate's private key (else CELERIAC_TLS_KEY)
  --rollout-lease <ms|dur>  with --store redis://: how long the lease of the replica driving
                            rollouts lasts, renewed every third of it; a replica that dies is
                            taken over after it runs out (default 10s; a bare number is ms; at
                            least 1s). Ignored with the file store (one replica), which it says.
  --log-level <level>       debug, info, warn, error (default info)
  -h, --help                show this help

SIGTERM or SIGINT stops it cleanly: held long-polls are answered with 304, the store is closed.
`;

/** Shortest rollout lease `--rollout-lease` takes: renewed every third of it, a shorter one flaps under load. */
const MIN_ROLLOUT_LEASE_MS = 1000;

/** `--rollout-lease`: a bare number of ms or a duration ("15s", "1m"); null when not one of at least 1 s. */
export function parseRolloutLease(value: string): number | null {
  let ms: number;
  try {
    ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) : parseDuration(value);
  } catch {
    return null;
  }
  return Number.isSafeInteger(ms) && ms >= MIN_ROLLOUT_LEASE_MS ? ms : null;
}

/** Exit codes: 0 clean stop, 1 failure at start, 2 bad usage (a flag, or the admin token it names). */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('center', USAGE, argv, {
    data: { type: 'string', default: './data' },
    listen: { type: 'string', default: '127.0.0.1:8700' },
    store: { type: 'string', default: 'file' },
    'admin-token-file': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'rollout-lease': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  });
  if (parsed.exitCode !== undefined) return parsed.exitCode;
  const { values } = parsed;
  const leaseFlag = values['rollout-lease'] as string | undefined;
  const rolloutLeaseMs = leaseFlag === undefined ? undefined : parseRolloutLease(leaseFlag);
  if (rolloutLeaseMs === null)
    return usageError('center', `--rollout-lease ${leaseFlag} is not a duration of at least 1s; use e.g. 10s or 15000`);
  let adminToken = process.env.CELERIAC_ADMIN_TOKEN?.trim() || undefined;
  const tokenFile = values['admin-token-file'] as string | undefined;
  if (tokenFile !== undefined) {
    try {
      adminToken = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      return usageError('center', `cannot read --admin-token-file ${tokenFile}: ${(error as Error).message}`);
    }
  }
  const logger = createLogger({ level: values['log-level'] as string, bindings: { component: 'center' } });
  if (rolloutLeaseMs !== undefined && values.store === 'file')
    logger.warn(
      { event: 'center.option_ignored', option: 'rollout-lease' },
      '--rollout-lease is ignored with the file store: one replica drives rollouts without a lease',
    );
  let center: Awaited<ReturnType<typeof startCenter>>;
  try {
    center = await startCenter({
      dataDir: values.data as string,
      listen: values.listen as string,
      store: values.store as string,
      tlsCertFile: (values['tls-cert'] as string | undefined) || process.env.CELERIAC_TLS_CERT || undefined,
      tlsKeyFile: (values['tls-key'] as string | undefined) || process.env.CELERIAC_TLS_KEY || undefined,
      ...(adminToken === undefined ? {} : { adminToken }),
      ...(rolloutLeaseMs === undefined ? {} : { rolloutLeaseMs }),
      logger,
      onAdminTokenGenerated: (token) => {
        // Printed once on stdout, never logged: the operator stores it; later starts do not show it.
        process.stdout.write(
          `\nFirst admin token (shown only now; store it safely, e.g. export CELERIAC_TOKEN=...):\n${token}\n\n`,
        );
      },
    });
  } catch (error) {
    // A bad --listen, --store or admin token is a usage error (exit 2), not a failure of the center.
    if (error instanceof CenterStartError && error.code === 'CENTER_BAD_OPTION')
      return usageError('center', error.message);
    const message = error instanceof CenterStartError ? error.message : redactSecrets((error as Error).message);
    const code = error instanceof CenterStartError ? error.code : undefined;
    logger.error({ event: 'center.start_failed', code, store: redactUrl(String(values.store)), err: error }, message);
    process.stderr.write(`celeriac center: ${message}${code === undefined ? '' : ` [${code}]`}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    onStopSignals(
      (signal) => {
        logger.info({ event: 'center.stopping', signal }, 'stopping: answering held long-polls and closing the store');
        center.close().then(
          () => {
            logger.info({ event: 'center.stopped' }, 'config center stopped');
            resolve(0);
          },
          (error: unknown) => {
            logger.error({ event: 'center.stop_failed', err: error }, 'the center did not close cleanly');
            resolve(1);
          },
        );
      },
      (signal) => {
        logger.warn({ event: 'center.forced_exit', signal }, 'second signal: exiting now');
        process.exit(1);
      },
    );
  });
}
