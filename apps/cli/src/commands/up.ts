import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { validateLayer } from '@celeriac/config-schema';
import { createLogger, redactUrl } from '@celeriac/logger';
import { type FleetInfo, LocalFleet } from '../local-fleet.js';
import { reportError } from '../ops/report-error.js';
import { parseCommandArgs, usageError } from '../parse-command-args.js';
import { onStopSignals } from '../stop-signals.js';

const USAGE = `Usage: celeriac up [options]

Starts a whole local fleet on this machine: a redis-server on a free port (unless --broker), a
config center (state in ./.celeriac), an agent for node "local" running a demo worker program,
and prints the center URL, an operator token and commands to try. Ctrl-C stops all of it (a
second Ctrl-C kills the workers instead of waiting for their tasks).

Options:
  --dir <dir>           state directory (default ./.celeriac)
  --broker <url>        use this Redis instead of starting one (redis://host:port/db)
  --listen <host:port>  center address (default 127.0.0.1:8700; taken → any free port)
  --demo-producer       also send a tasks.add every second and log the results
  -l, --loglevel <lvl>  log level (default info)
  -h, --help            this help
`;

/** `celeriac up`: redis, center, agent and demo worker on one machine until Ctrl-C/SIGTERM. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('up', USAGE, argv, {
    dir: { type: 'string' },
    broker: { type: 'string' },
    listen: { type: 'string' },
    'demo-producer': { type: 'boolean' },
    loglevel: { type: 'string', short: 'l' },
  });
  if (parsed.exitCode !== undefined) return parsed.exitCode;
  const { values } = parsed;
  const broker = typeof values.broker === 'string' ? values.broker : undefined;
  if (broker !== undefined) {
    // The URL the fleet's workers will use: the same check the center makes.
    const checked = validateLayer('defaults', { celery: { broker_url: broker } });
    if (!checked.ok) return usageError('up', `--broker: ${checked.issues.map((issue) => issue.message).join('; ')}`);
  }
  const dir = path.resolve(typeof values.dir === 'string' ? values.dir : '.celeriac');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ level: typeof values.loglevel === 'string' ? values.loglevel : 'info' });
  const fleet = new LocalFleet(dir, logger);

  // Settles when the first SIGINT/SIGTERM has closed the fleet (the server and children keep the process alive until then).
  const stopped = new Promise<void>((resolve) => {
    onStopSignals(
      (signal) => {
        logger.info({ event: 'cli.up_stopping', signal }, 'stopping the local fleet');
        resolve(fleet.close());
      },
      (signal) => {
        logger.warn({ event: 'cli.up_killing', signal }, 'second signal: killing the workers now');
        fleet.kill();
      },
    );
  });
  try {
    const info = await fleet.start({
      broker,
      listen: typeof values.listen === 'string' ? values.listen : '127.0.0.1:8700',
      demoProducer: values['demo-producer'] === true,
    });
    process.stdout.write(banner(info));
  } catch (error) {
    logger.error({ event: 'cli.up_failed', err: error }, 'celeriac up failed');
    reportError('celeriac up', error);
    await fleet.close();
    return 1;
  }
  await stopped;
  process.stdout.write('celeriac up: stopped (agent and workers, center, redis)\n');
  return 0;
}

function banner(info: FleetInfo): string {
  return `
Celeriac local fleet is up.

  center     ${info.centerUrl}
  operator   ${info.operatorToken}
  broker     ${redactUrl(info.brokerUrl)}
  agent      node "local", metrics ${info.metricsUrl}/metrics
  state      ${info.dir}

Try, in another terminal:

  export CELERIAC_CENTER=${info.centerUrl} CELERIAC_TOKEN=${info.operatorToken}
  npx celeriac nodes
  npx celeriac config get nodes/local
  npx celeriac config set defaults 'celery.task_annotations["tasks.add"].rate_limit=5/s' -m "slow down add"
  npx celeriac config set nodes/local programs.demo.replicas=3 -m "more workers"
  npx celeriac config history --node local

The agent restarts the demo workers (rolling) when a change touches them; watch it here.
Ctrl-C stops everything.
`;
}
