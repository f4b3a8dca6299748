import { readFileSync } from 'node:fs';
import { Agent, AgentUsageError } from '@celeriac/agent';
import { parseDuration } from '@celeriac/config-schema';
import { createLogger } from '@celeriac/logger';
import { readCenterCa } from '../ops/center-ca.js';
import { type CommandValues, parseCommandArgs, usageError } from '../parse-command-args.js';
import { onStopSignals } from '../stop-signals.js';

const USAGE = `Usage: celeriac agent --center <url> --node <name> --token <token> --state-dir <dir> [options]

Supervises the programs of one node: long-polls the node's config from the center, writes each
program's config file, restarts exactly the affected programs (rolling) and reports status.

Options (flag, or environment variable):
  --center <url>            center URL                         CELERIAC_CENTER
  --node <name>             this node's name                   CELERIAC_NODE
  --token <token>           agent token bound to the node      CELERIAC_TOKEN
  --token-file <file>       read the agent token from a file   CELERIAC_TOKEN_FILE
  --state-dir <dir>         config files, last-known-good, pids CELERIAC_STATE_DIR
  --ca-file <pem>           CAs to verify an https:// center    CELERIAC_CA_FILE
                            (default: the system CAs)
  --metrics-listen <h:p>    serve /healthz and /metrics (port 0 = any free port)
  --work-dir <dir>          where relative app paths resolve (default: current dir)
  --host <name>             host part of worker names (default: hostname)
  --heartbeat <duration>    status heartbeat period (default 5s)
  -l, --loglevel <level>    log level (default info)
  -h, --help                this help

A flag wins over the environment: with --token or --token-file, CELERIAC_TOKEN (often an
operator's token) is ignored. Of the two variables, CELERIAC_TOKEN_FILE wins.

SIGTERM or SIGINT stops every program gracefully (TERM, then KILL after its stop_timeout) and exits;
a second one KILLs them at once.
`;

/** `celeriac agent`: runs the supervisor agent of one node until SIGTERM/SIGINT. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('agent', USAGE, argv, {
    center: { type: 'string' },
    node: { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    'ca-file': { type: 'string' },
    'state-dir': { type: 'string' },
    'metrics-listen': { type: 'string' },
    'work-dir': { type: 'string' },
    host: { type: 'string' },
    heartbeat: { type: 'string' },
    loglevel: { type: 'string', short: 'l' },
  });
  if (parsed.exitCode !== undefined) return parsed.exitCode;
  let options: ReturnType<typeof readOptions>;
  try {
    options = readOptions(parsed.values);
  } catch (error) {
    return usageError('agent', (error as Error).message, USAGE);
  }
  const logger = createLogger({
    level: options.loglevel,
    bindings: { component: 'agent', node: options.node },
  });
  const agent = new Agent({
    centerUrl: options.center,
    node: options.node,
    token: options.token,
    ...(options.centerCa ? { centerCa: options.centerCa } : {}),
    stateDir: options.stateDir,
    logger,
    metricsListen: options.metricsListen,
    workDir: options.workDir,
    host: options.host,
    heartbeatMs: options.heartbeatMs,
  });
  const done = new Promise<number>((resolve) => {
    onStopSignals(
      (signal) => {
        logger.info({ event: 'agent.stop_requested', signal }, 'stopping the agent and its programs');
        agent.close().then(
          () => resolve(0),
          (error: unknown) => {
            logger.error({ event: 'agent.stop_failed', err: error }, 'agent did not stop cleanly');
            resolve(1);
          },
        );
      },
      (signal) => {
        logger.warn({ event: 'agent.kill_requested', signal }, 'second signal: killing the programs now');
        agent.kill();
      },
    );
  });
  try {
    await agent.start();
  } catch (error) {
    logger.error({ event: 'agent.start_failed', err: error }, 'agent failed to start');
    await agent.close();
    return 1;
  }
  logger.info(
    {
      event: 'agent.started',
      metrics: agent.metricsUrl || undefined,
      state: agent.state,
      token_source: options.tokenSource,
      heartbeat_ms: options.heartbeatMs,
    },
    'agent started',
  );
  return done;
}

function readOptions(values: CommandValues) {
  const str = (name: string, env?: string): string | undefined => {
    const value = values[name];
    if (typeof value === 'string' && value !== '') return value;
    const fromEnv = env ? process.env[env] : undefined;
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const missing: string[] = [];
  const center = str('center', 'CELERIAC_CENTER');
  const node = str('node', 'CELERIAC_NODE');
  const stateDir = str('state-dir', 'CELERIAC_STATE_DIR');
  const token = readToken(str('token'), str('token-file'));
  if (!center) missing.push('--center (or CELERIAC_CENTER)');
  if (!node) missing.push('--node (or CELERIAC_NODE)');
  if (!token) missing.push('--token or --token-file (or CELERIAC_TOKEN, CELERIAC_TOKEN_FILE)');
  if (!stateDir) missing.push('--state-dir (or CELERIAC_STATE_DIR)');
  if (missing.length > 0) throw new AgentUsageError(`missing ${missing.join(', ')}`);
  if (center && !/^https?:\/\//.test(center)) {
    throw new AgentUsageError(`--center must be an http:// or https:// URL, e.g. http://127.0.0.1:8700`);
  }
  let heartbeatMs: number | undefined;
  const heartbeat = str('heartbeat');
  if (heartbeat) {
    try {
      heartbeatMs = Math.round(parseDuration(heartbeat));
    } catch {
      heartbeatMs = Number.NaN;
    }
    if (!(heartbeatMs >= 1)) {
      throw new AgentUsageError(`--heartbeat ${heartbeat} is not a positive duration; use e.g. 5s or 500ms`);
    }
  }
  return {
    center: center as string,
    node: node as string,
    token: token?.token as string,
    tokenSource: token?.source,
    centerCa: readCenterCa(str('ca-file')),
    stateDir: stateDir as string,
    metricsListen: str('metrics-listen'),
    workDir: str('work-dir'),
    host: str('host'),
    loglevel: str('loglevel') ?? 'info',
    heartbeatMs,
  };
}

/** Where the agent's token came from, logged at start (never the token itself). */
type TokenSource = '--token' | '--token-file' | 'CELERIAC_TOKEN_FILE' | 'CELERIAC_TOKEN';

/**
 * The agent token: a flag wins over the environment (an operator's exported CELERIAC_TOKEN must
 * not replace the agent token named on the command line), and CELERIAC_TOKEN_FILE over
 * CELERIAC_TOKEN. Both flags at once are refused.
 */
function readToken(
  flag: string | undefined,
  fileFlag: string | undefined,
): { token: string; source: TokenSource } | undefined {
  if (flag && fileFlag) {
    throw new AgentUsageError('--token and --token-file were both given; pass only one of them');
  }
  if (flag) return { token: flag, source: '--token' };
  if (fileFlag) return { token: readTokenFile(fileFlag, '--token-file'), source: '--token-file' };
  const envFile = process.env.CELERIAC_TOKEN_FILE;
  if (envFile) return { token: readTokenFile(envFile, 'CELERIAC_TOKEN_FILE'), source: 'CELERIAC_TOKEN_FILE' };
  const envToken = process.env.CELERIAC_TOKEN;
  if (envToken) return { token: envToken, source: 'CELERIAC_TOKEN' };
  return undefined;
}

function readTokenFile(file: string, origin: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new AgentUsageError(`cannot read ${origin} ${file}: ${(error as Error).message}`);
  }
  if (!token) throw new AgentUsageError(`${origin} ${file} is empty; it must hold the agent token`);
  return token;
}
