import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the metrics endpoints show. */
export interface AgentMetrics {
  state: string;
  centerReachable: boolean;
  appliedRevision: number | null;
  applies: Record<string, number>;
  programs: Record<string, { state: string; replicas: number; restarts: number }>;
  ownerRestores: number;
  tasksRestored: number;
}

const PROGRAM_STATES = ['starting', 'running', 'backoff', 'stopping', 'stopped', 'fatal'];

/** `/healthz` (JSON) and `/metrics` (Prometheus text) on a local port. */
export class MetricsServer {
  private server: http.Server | undefined;
  private address: AddressInfo | undefined;

  constructor(
    private readonly listen: string,
    private readonly snapshot: () => AgentMetrics,
  ) {}

  /** Listens and resolves with the URL actually bound (port 0 picks a free port). */
  async start(): Promise<string> {
    if (this.server) return this.url();
    const { host, port } = parseListen(this.listen);
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.address = server.address() as AddressInfo;
    return this.url();
  }

  /** `http://host:port`. */
  url(): string {
    if (!this.address) return '';
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const m = this.snapshot();
    if (path === '/healthz') {
      const healthy = m.state !== 'stopped' && !Object.values(m.programs).some((p) => p.state === 'fatal');
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: healthy ? 'ok' : 'unhealthy',
          state: m.state,
          center_reachable: m.centerReachable,
          applied_revision: m.appliedRevision,
          programs: Object.fromEntries(Object.entries(m.programs).map(([k, v]) => [k, v.state])),
        }),
      );
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(renderPrometheus(m));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { code: 'NOT_FOUND', message: `no such path ${path}; try /healthz or /metrics` } }),
    );
  }
}

function renderPrometheus(m: AgentMetrics): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric('celeriac_agent_center_reachable', 'gauge', 'Whether the last request to the center succeeded.', [
    ['', m.centerReachable ? 1 : 0],
  ]);
  metric('celeriac_agent_applied_revision', 'gauge', 'Revision of the config in force (-1: none).', [
    ['', m.appliedRevision ?? -1],
  ]);
  metric(
    'celeriac_agent_applies_total',
    'counter',
    'Configs handled, by result.',
    Object.entries(m.applies).map(([result, n]) => [`{result="${result}"}`, n]),
  );
  metric(
    'celeriac_agent_program_replicas',
    'gauge',
    'Running processes per program.',
    Object.entries(m.programs).map(([name, p]) => [`{program="${label(name)}"}`, p.replicas]),
  );
  metric(
    'celeriac_agent_program_restarts_total',
    'counter',
    'Crash restarts per program.',
    Object.entries(m.programs).map(([name, p]) => [`{program="${label(name)}"}`, p.restarts]),
  );
  metric(
    'celeriac_agent_program_state',
    'gauge',
    'One for the state each program is in.',
    Object.entries(m.programs).flatMap(([name, p]) =>
      PROGRAM_STATES.map((s): [string, number] => [`{program="${label(name)}",state="${s}"}`, p.state === s ? 1 : 0]),
    ),
  );
  metric('celeriac_agent_owner_restores_total', 'counter', 'Dead workers whose held tasks were put back.', [
    ['', m.ownerRestores],
  ]);
  metric('celeriac_agent_tasks_restored_total', 'counter', 'Tasks put back to their queues from dead workers.', [
    ['', m.tasksRestored],
  ]);
  return `${lines.join('\n')}\n`;
}

function label(value: string): string {
  return value.replace(/[\\"\n]/g, '_');
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!match) throw new Error(`--metrics-listen "${listen}" is not host:port (e.g. 127.0.0.1:9464)`);
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port: Number(match[3]) };
}
