// A config center and agents in this process for the agent's TLS probe tests: every log line of
// the agents captured (tagged with `agent`), a celeriac-worker program of the e2e health tasks, and
// the program status fields the probe adds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger, type Logger } from '@celeriac/logger';
import { CenterApi } from '../../../../test/e2e/support/center-api.js';
import { Agent } from '../../src/agent.js';

/** The e2e support folder: the health tasks (`health-tasks.mjs`) and the Python ones (`health_py_tasks`). */
export const E2E_SUPPORT = path.resolve(import.meta.dirname, '../../../../test/e2e/support');

/** What the agent adds to a program's status. */
export interface Probed {
  applied_revision: number | null;
  programs: Record<
    string,
    {
      health?: { source: string; counts: { succeeded: number } };
      state: string;
      responding?: boolean;
      workers?: Record<string, { responding: boolean; last_reply_at: string | null }>;
    }
  >;
}

/** A celeriac-worker program of the health tasks on queue `tls`, with `env` for its process. */
export function healthWorkerProgram(env: Record<string, string> = {}) {
  return {
    kind: 'celeriac-worker',
    app: path.join(E2E_SUPPORT, 'health-tasks.mjs'),
    queues: ['tls'],
    concurrency: 1,
    stop_timeout: '5s',
    ready_timeout: '30s',
    env,
  };
}

/** A center and the agents started on it, probing every 300 ms. */
export class ProbeFleet {
  /** Every log line of the agents, parsed. */
  readonly lines: Record<string, unknown>[] = [];
  private readonly agents: Agent[] = [];
  private readonly logger: Logger;

  private constructor(
    private readonly dir: string,
    readonly center: RunningCenter,
    readonly admin: CenterApi,
  ) {
    this.logger = createLogger({
      level: 'debug',
      pretty: false,
      destination: { write: (line: string) => this.lines.push(JSON.parse(line)) },
    });
  }

  static async start(adminToken: string): Promise<ProbeFleet> {
    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-agent-probe-'));
    const center = await startCenter({
      logger: createLogger({ level: 'silent' }),
      dataDir: path.join(dir, 'center'),
      listen: '127.0.0.1:0',
      adminToken,
      heartbeatMs: 500,
    });
    return new ProbeFleet(dir, center, new CenterApi(center.url, adminToken));
  }

  /** Starts the agent of node `name` (its own token, its lines tagged `agent: name`). */
  async startAgent(name: string): Promise<void> {
    const agent = new Agent({
      centerUrl: this.center.url,
      node: name,
      token: await this.admin.createToken('agent', name),
      stateDir: path.join(this.dir, name),
      logger: this.logger.child({ agent: name }),
      heartbeatMs: 300,
      longPollWaitSec: 5,
      workerProbeMs: 300,
    });
    this.agents.push(agent);
    await agent.start();
  }

  /** The node as the center reports it. */
  async probed(name: string): Promise<Probed> {
    return (await this.admin.node(name)) as unknown as Probed;
  }

  /** The agent's lines of `event`. */
  linesOf(agent: string, event: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === event && l.agent === agent);
  }

  async close(): Promise<void> {
    for (const agent of this.agents) await agent.close();
    await this.center.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
