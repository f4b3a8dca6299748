import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetLimitSnapshot } from '@celeriac/broker';
import { PROGRAM_STATES } from '@celeriac/config-schema';
import { AgentUsageError } from './errors.js';
import { renderFleetLimits } from './fleet-limits-metrics.js';
import { renderHealth } from './health-prometheus.js';
import type { HealthWindows } from './health-windows.js';

/** What the metrics endpoints show. */
export interface AgentMetrics {
  state: string;
  centerReachable: boolean;
  appliedRevision: number | null;
  applies: Record<string, number>;
  programs: Record<string, { state: string; replicas: number; restarts: number }>;
  ownerRestores: number;
  tasksRestored: number;
  /** Fleet-wide limits in force and their state across the fleet (fleet-limits-publisher.ts). */
  fleetLimits?: FleetLimitSnapshot[];
  /** Task health per program and task name (health-windows.ts). */
  health?: HealthWindows;
}

/** What the agent's HTTP endpoints answer to one request. */
export interface MetricsResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The answer to `GET <urlPath>` for a snapshot: `/healthz` (JSON; 503 once the agent stopped or
 * failed, or a program is FATAL), `/metrics` (Prometheus text), 404 otherwise. Pure, so tests
 * call it without a server.
 */
export function metricsResponse(urlPath: string, m: AgentMetrics): MetricsResponse {
  const path = urlPath.split('?')[0];
  if (path === '/healthz') {
    const healthy =
      m.state !== 'stopped' && m.state !== 'failed' && !Object.values(m.programs).some((p) => p.state === 'fatal');
    const body = {
      status: healthy ? 'ok' : 'unhealthy',
      state: m.state,
      center_reachable: m.centerReachable,
      applied_revision: m.appliedRevision,
      programs: Object.fromEntries(Object.entries(m.programs).map(([k, v]) => [k, v.state])),
    };
    return { status: healthy ? 200 : 503, contentType: 'application/json', body: JSON.stringify(body) };
  }
  if (path === '/metrics') return { status: 200, contentType: 'text/plain; version=0.0.4', body: renderPrometheus(m) };
  const error = { code: 'NOT_FOUND', message: `no such path ${path}; try /healthz or /metrics` };
  return { status: 404, contentType: 'application/json', body: JSON.stringify({ error }) };
}

/** The agent's HTTP server, built but not listening (the way fastify's `buildServer` is). */
export function buildMetricsServer(snapshot: () => AgentMetrics): http.Server {
  return http.createServer((req, res) => {
    const answer = metricsResponse(req.url ?? '/', snapshot());
    res.writeHead(answer.status, { 'content-type': answer.contentType });
    res.end(answer.body);
  });
}

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
    const server = buildMetricsServer(this.snapshot);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      this.server = undefined;
      throw new AgentUsageError(
        `cannot serve metrics on --metrics-listen ${this.listen} (${(error as Error).message}); pick a free port or 0`,
      );
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
  if (m.fleetLimits !== undefined && m.fleetLimits.length > 0) renderFleetLimits(m.fleetLimits, metric);
  if (m.health !== undefined) renderHealth(m.health, metric);
  return `${lines.join('\n')}\n`;
}

/** A Prometheus label value (quotes, backslashes and newlines replaced). */
export function label(value: string): string {
  return value.replace(/[\\"\n]/g, '_');
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!match || Number(match[3]) > 65_535) {
    throw new AgentUsageError(`--metrics-listen "${listen}" is not host:port (e.g. 127.0.0.1:9464)`);
  }
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port: Number(match[3]) };
}
