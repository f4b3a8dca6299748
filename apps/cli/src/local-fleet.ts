import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, processStartTicks, signalProcess } from '@celeriac/agent';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { tokenCreatedResponseSchema } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import { DemoProducer } from './demo-producer.js';
import { freePort, isPortFree, spawnRedisServer, waitForPort } from './local-redis.js';
import { CenterClient, CenterRequestError } from './ops/center-client.js';
import { CliError, EXIT } from './ops/cli-errors.js';
import { readLayer } from './ops/read-layer.js';

const DEMO_TASKS = fileURLToPath(new URL('../../../deploy/demo/tasks.mjs', import.meta.url));

/** `<dir>/up.json`: what a later `celeriac up` reuses (redis port, tokens) or cleans up (a leftover redis). */
interface UpState {
  redisPort?: number;
  redisPid?: number;
  redisStartTicks?: string;
  adminToken?: string;
  operatorToken?: string;
  agentToken?: string;
}

/** What `celeriac up` prints once the fleet runs. */
export interface FleetInfo {
  centerUrl: string;
  operatorToken: string;
  brokerUrl: string;
  dir: string;
  metricsUrl: string;
}

/** Where a local fleet is: `failed` when start() threw (close() then stops what did start). */
export type FleetState = 'idle' | 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

/** Redis + center + agent for node `local`, started and stopped in order. */
export class LocalFleet {
  private stateValue: FleetState = 'idle';
  private redis: ChildProcess | undefined;
  private center: RunningCenter | undefined;
  private agent: Agent | undefined;
  private producer: DemoProducer | undefined;
  private closing: Promise<void> | undefined;
  private readonly stateFile: string;
  private state: UpState = {};

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {
    this.stateFile = path.join(dir, 'up.json');
  }

  /** idle → starting → running (or failed) → stopping → stopped; every change is logged as `cli.up.state`. */
  get fleetState(): FleetState {
    return this.stateValue;
  }

  async start(o: { broker?: string; listen: string; demoProducer: boolean }): Promise<FleetInfo> {
    this.setState('starting');
    try {
      const info = await this.startAll(o);
      this.setState('running');
      return info;
    } catch (error) {
      this.setState('failed');
      throw error;
    }
  }

  private setState(next: FleetState): void {
    const previous = this.stateValue;
    if (previous === next) return;
    this.stateValue = next;
    this.logger.info({ event: 'cli.up.state', from: previous, to: next }, `local fleet ${next}`);
  }

  private async startAll(o: { broker?: string; listen: string; demoProducer: boolean }): Promise<FleetInfo> {
    this.state = this.readState();
    this.killLeftoverRedis();
    const brokerUrl = o.broker ?? (await this.startRedis());
    const resultBackend = withDb(brokerUrl, 1);
    this.state.adminToken ??= `cel_${randomBytes(24).toString('base64url')}`;
    this.saveState();

    this.center = await this.startCenter(o.listen);
    const admin = new CenterClient({ url: this.center.url, token: this.state.adminToken });
    this.state.operatorToken = await ensureToken(admin, this.center.url, this.state.operatorToken, 'operator');
    this.state.agentToken = await ensureToken(admin, this.center.url, this.state.agentToken, 'agent', 'local');
    this.saveState();
    await this.seed(admin, brokerUrl, resultBackend);

    this.agent = new Agent({
      centerUrl: this.center.url,
      node: 'local',
      token: this.state.agentToken,
      stateDir: path.join(this.dir, 'agent'),
      logger: this.logger.child({ component: 'agent', node: 'local' }),
      metricsListen: '127.0.0.1:0',
    });
    await this.agent.start();
    if (o.demoProducer) {
      this.producer = new DemoProducer(brokerUrl, resultBackend, this.logger.child({ component: 'producer' }));
      this.producer.start();
    }
    return {
      centerUrl: this.center.url,
      operatorToken: this.state.operatorToken,
      brokerUrl,
      dir: this.dir,
      metricsUrl: this.agent.metricsUrl,
    };
  }

  /** KILLs the workers at once (second Ctrl-C); close() then finishes quickly. */
  kill(): void {
    this.agent?.kill();
  }

  /** Producer, then agent (workers stop warm), then center, then redis. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.setState('stopping');
      await this.producer?.close();
      await this.agent?.close();
      await this.center?.close();
      await this.stopRedis();
      this.setState('stopped');
    })();
    return this.closing;
  }

  private async startRedis(): Promise<string> {
    const port =
      this.state.redisPort && (await isPortFree(this.state.redisPort)) ? this.state.redisPort : await freePort();
    const redisDir = path.join(this.dir, 'redis');
    mkdirSync(redisDir, { recursive: true });
    // Its own process group: Ctrl-C in the terminal must not stop Redis before the workers drained.
    const child = spawnRedisServer(port, redisDir, { detached: true });
    const failed = new Promise<never>((_, reject) =>
      child.once('error', (error) =>
        reject(
          new CliError(
            'CLI_UP_FAILED',
            `cannot start redis-server (${error.message}); run deploy/setup-debian.sh or pass --broker redis://...`,
            EXIT.other,
            [],
            { cause: error },
          ),
        ),
      ),
    );
    this.redis = child;
    await Promise.race([waitForPort(port, 5000), failed]);
    this.state.redisPort = port;
    this.state.redisPid = child.pid;
    this.state.redisStartTicks = child.pid ? (processStartTicks(child.pid) ?? undefined) : undefined;
    this.saveState();
    this.logger.info({ event: 'cli.up_redis_started', port, pid: child.pid }, 'redis-server started');
    return `redis://127.0.0.1:${port}/0`;
  }

  private async stopRedis(): Promise<void> {
    const child = this.redis;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.state.redisPid = undefined;
    this.state.redisStartTicks = undefined;
    this.saveState();
  }

  /** A redis-server left running by an `up` that was killed: stop it if it is still the same process. */
  private killLeftoverRedis(): void {
    const { redisPid, redisStartTicks } = this.state;
    if (redisPid && redisStartTicks && processStartTicks(redisPid) === redisStartTicks) {
      this.logger.warn(
        { event: 'cli.up_leftover_redis_stopped', pid: redisPid },
        'stopping the redis-server of a previous celeriac up',
      );
      signalProcess(redisPid, 'SIGKILL');
    }
  }

  private async startCenter(listen: string): Promise<RunningCenter> {
    const options = {
      logger: this.logger.child({ component: 'center' }),
      dataDir: path.join(this.dir, 'center'),
      adminToken: this.state.adminToken,
    };
    try {
      return await startCenter({ ...options, listen });
    } catch (error) {
      this.logger.warn(
        { event: 'cli.up_center_port_taken', listen, err: error },
        'center address taken; using a free port',
      );
      return startCenter({ ...options, listen: '127.0.0.1:0' });
    }
  }

  /** The defaults and nodes/local layers, created when missing; the broker URL kept current. */
  private async seed(admin: CenterClient, brokerUrl: string, resultBackend: string): Promise<void> {
    const defaults = await readLayer(admin, 'defaults');
    if (defaults.revision === 0) {
      await writeLayer(admin, 'defaults', undefined, {
        celery: {
          broker_url: brokerUrl,
          result_backend: resultBackend,
          task_serializer: 'json',
          result_serializer: 'json',
          accept_content: ['json', 'msgpack'],
          task_default_queue: 'celery',
        },
      });
    } else {
      const doc = defaults.document as { celery?: Record<string, unknown> };
      if (doc.celery?.broker_url !== brokerUrl || doc.celery?.result_backend !== resultBackend) {
        await writeLayer(admin, 'defaults', defaults.revision, {
          ...doc,
          celery: { ...doc.celery, broker_url: brokerUrl, result_backend: resultBackend },
        });
      }
    }
    const local = await readLayer(admin, 'nodes/local');
    if (local.revision === 0) {
      await writeLayer(admin, 'nodes/local', undefined, {
        programs: {
          demo: {
            kind: 'celeriac-worker',
            app: DEMO_TASKS,
            queues: ['celery'],
            replicas: 2,
            concurrency: 8,
            stop_timeout: '10s',
          },
        },
      });
    }
  }

  private readState(): UpState {
    try {
      return JSON.parse(readFileSync(this.stateFile, 'utf8')) as UpState;
    } catch {
      return {};
    }
  }

  private saveState(): void {
    writeFileSync(this.stateFile, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
  }
}

/** Reuses `existing` when the center still accepts it, else creates a new token of `role`. */
async function ensureToken(
  admin: CenterClient,
  centerUrl: string,
  existing: string | undefined,
  role: 'operator' | 'agent',
  node?: string,
): Promise<string> {
  if (existing) {
    try {
      await new CenterClient({ url: centerUrl, token: existing }).request(
        'GET',
        node ? `/v1/nodes/${node}/config` : '/v1/nodes',
      );
      return existing;
    } catch (error) {
      if (!(error instanceof CenterRequestError)) throw error;
    }
  }
  try {
    const created = await admin.request('POST', '/v1/tokens', {
      body: { role, node, name: `celeriac up ${role}` },
      schema: tokenCreatedResponseSchema,
    });
    return created.body.token;
  } catch (error) {
    throw refused(`could not create the ${role} token`, error);
  }
}

/** PUTs a layer (If-Match `revision` when it exists) with the change message "celeriac up". */
async function writeLayer(client: CenterClient, layer: string, revision: number | undefined, doc: object) {
  try {
    await client.request('PUT', `/v1/layers/${layer}`, {
      body: { ...doc, message: 'celeriac up' },
      ...(revision === undefined ? {} : { ifMatch: revision }),
    });
  } catch (error) {
    throw refused(`could not write ${layer}`, error);
  }
}

/** A refused request as `<what>: <center's message>` with its issues; other errors as they are. */
function refused(what: string, error: unknown): unknown {
  if (!(error instanceof CenterRequestError)) return error;
  return new CliError('CLI_UP_FAILED', `${what}: ${error.message}`, EXIT.other, error.details, { cause: error });
}

function withDb(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
