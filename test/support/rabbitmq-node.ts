import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from '../../apps/cli/src/local-redis.js';
import { QUEUE_COUNT_COLUMNS, queueCountsOf } from './rabbitmq-vhost.js';

const run = promisify(execFile);

/** Debian's scripts themselves: /usr/sbin's wrappers would `su rabbitmq` when run as root. */
const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/** The TLS listener of a private node: PEM files (test/support/tls-certs.ts makes them). */
export interface RabbitNodeTls {
  caCert: string;
  serverCert: string;
  serverKey: string;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  // Test process ending (or vitest killing the file): take every node of ours with it.
  for (const child of live) if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Makes sure the current user has an Erlang cookie (~/.erlang.cookie, as `erl` would create it)
 * before two nodes started at once race to create different ones; rabbitmqctl reads the same file.
 */
function ensureErlangCookie(): void {
  const file = path.join(homedir(), '.erlang.cookie');
  try {
    const fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o400);
    writeSync(fd, randomBytes(15).toString('hex').toUpperCase());
    closeSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * A RabbitMQ node of one test file, run as the current user on free ports (AMQP, Erlang
 * distribution, optionally AMQPS) with its database, logs and config in a temporary folder and
 * no plugins. Unlike the machine's shared node it can be stopped and started by the test:
 * `stopApp()`/`startApp()` are `rabbitmqctl stop_app`/`start_app` (every connection is closed
 * with CONNECTION_FORCED, queues and messages stay), `stop()` ends it. Boots in about 3-4 s here.
 */
export class RabbitNode {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly nodeName: string,
    readonly port: number,
    readonly distPort: number,
    readonly tlsPort: number | null,
    private readonly dir: string,
  ) {}

  /** Starts the node and resolves once it accepts AMQP connections (and AMQPS ones with `tls`). */
  static async start(
    options: {
      tls?: RabbitNodeTls;
      bootTimeoutMs?: number;
      /** `consumer_timeout` (ms): RabbitMQ closes a channel holding a delivery unacked longer (30 min by default). */
      consumerTimeoutMs?: number;
    } = {},
  ): Promise<RabbitNode> {
    ensureErlangCookie();
    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-rabbit-'));
    const [port, distPort, tlsPort] = [await freePort(), await freePort(), options.tls ? await freePort() : null];
    const node = new RabbitNode(`celeriac-${randomBytes(4).toString('hex')}@localhost`, port, distPort, tlsPort, dir);
    const config = ['loopback_users = none', 'log.console = false', 'log.file.level = warning'];
    if (options.consumerTimeoutMs !== undefined) config.push(`consumer_timeout = ${options.consumerTimeoutMs}`);
    if (options.tls && tlsPort !== null) {
      config.push(
        `listeners.ssl.1 = 127.0.0.1:${tlsPort}`,
        `ssl_options.cacertfile = ${options.tls.caCert}`,
        `ssl_options.certfile = ${options.tls.serverCert}`,
        `ssl_options.keyfile = ${options.tls.serverKey}`,
        'ssl_options.verify = verify_none',
        'ssl_options.fail_if_no_peer_cert = false',
      );
    }
    writeFileSync(path.join(dir, 'rabbitmq.conf'), `${config.join('\n')}\n`);
    writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
    // The channel checks consumer_timeout on its tick (a minute by default): a short timeout needs a short tick.
    const tick = options.consumerTimeoutMs !== undefined ? '[{rabbit, [{channel_tick_interval, 1000}]}].' : '[].';
    writeFileSync(path.join(dir, 'advanced.config'), `${tick}\n`);
    writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
    await node.launch();
    try {
      await waitForPort(port, options.bootTimeoutMs ?? 30_000);
      if (tlsPort !== null) await waitForPort(tlsPort, 10_000);
    } catch (error) {
      await node.stop();
      throw new Error(`the private RabbitMQ node did not start: ${String(error)} (logs in ${dir}/log)`);
    }
    return node;
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      ...process.env,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: path.join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(d, 'log'),
      RABBITMQ_CONFIG_FILE: path.join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(d, 'advanced.config'),
      // Not /etc/rabbitmq's (it names the shared node).
      RABBITMQ_CONF_ENV_FILE: path.join(d, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(d, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: path.join(d, 'plugins-expand'),
      RABBITMQ_PID_FILE: path.join(d, 'pid'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
  }

  private async launch(): Promise<void> {
    // A watchdog in the node's process group ends it when this test process dies without its
    // 'exit' handler running (SIGKILL of a vitest worker).
    const watchdog = `(while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; rm -rf '${this.dir}'; kill -KILL 0) & exec "$0"`;
    const child = spawn('/bin/sh', ['-c', watchdog, path.join(RABBITMQ_BIN, 'rabbitmq-server')], {
      env: this.env(),
      cwd: this.dir,
      detached: true,
      stdio: 'ignore',
    });
    live.add(child);
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
    });
  }

  /** `amqp://guest:guest@127.0.0.1:<port>/<vhost>` (vhost `/` by default). */
  url(vhost = '/'): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}/${encodeURIComponent(vhost)}`;
  }

  /** `amqps://guest:guest@<host>:<tls port>/` (host `localhost` by default: the test certificate names it). */
  tlsUrl(host = 'localhost'): string {
    if (this.tlsPort === null) throw new Error('this node was started without a TLS listener');
    return `amqps://guest:guest@${host}:${this.tlsPort}/`;
  }

  /** Runs `rabbitmqctl -n <node> ...args` and returns its output. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run(path.join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', this.nodeName, ...args], {
      env: this.env(),
      timeout: 60_000,
    });
    return stdout;
  }

  /** `rabbitmqctl stop_app`: closes every connection and stops the broker, the Erlang node stays up. */
  async stopApp(): Promise<void> {
    await this.ctl('stop_app');
  }

  /** `rabbitmqctl start_app`, then waits until AMQP is accepted again. */
  async startApp(): Promise<void> {
    await this.ctl('start_app');
    await waitForPort(this.port, 30_000);
  }

  /** Messages ready and unacknowledged in `queue` of vhost `/`; null when it does not exist. */
  async queueCounts(queue: string): Promise<{ ready: number; unacked: number } | null> {
    return queueCountsOf(await this.ctl('list_queues', ...QUEUE_COUNT_COLUMNS), queue);
  }

  /** Ends the node (SIGTERM to its process group, SIGKILL after 10 s) and removes its folder (idempotent). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      killGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child.pid as number, 'SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
      // The script's exit leaves beam finishing its halt: make sure the group is gone.
      killGroup(child.pid, 'SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
