import { type NodeSummary, nodeListResponseSchema, parseSelector } from '@celeriac/config-schema';
import { CliUsageError, EXIT } from '../ops/cli-errors.js';
import { CONNECTION_OPTIONS, clientFromArgs } from '../ops/connection.js';
import { type OptionSpec, parseArgs, stringOption } from '../ops/parse-args.js';
import { reportError } from '../ops/report-error.js';
import { formatAgo, formatTable } from '../ops/table.js';

const USAGE = `Usage: celeriac nodes [--select <selector>] [--json] [--center <url>] [--token <token>] [--ca-file <pem>]

Shows every node the config center knows: its state, the revision it should run (desired: what
it is served, behind the latest while a rollout holds it back, e.g. "4 (latest 6)") and the one
its agent applied, the result of the last apply, when the agent last reported, whether the
node drifted from the center's config, and its programs with their states (and the tasks their
workers run and hold, from the agent's inspect ping). An ACTIVE/RESERVED column, when the agents
probe workers, sums those per node ("4/7"; "-" for a node with none probed). A LABELS column shows
the labels of node layers (set them with: celeriac config set nodes/<node> labels.zone=eu), and a
ROLLOUT column, while a rollout runs, its id and the node's wave ("r6 wave 2, held").

  --select <selector>   only the nodes it selects, by name, group or label:
                        zone=eu,role=video|audio  !canary  zone!=us  node=web-*  group=video

Exit codes: 0 ok, 1 other error, 2 usage, 3 auth (401/403).
`;

const OPTIONS: OptionSpec[] = [...CONNECTION_OPTIONS, { name: 'json', value: false }, { name: 'select', value: true }];

/** What the nodes table shows of a node (GET /v1/nodes gives more). */
export type NodeRow = Pick<
  NodeSummary,
  | 'node'
  | 'state'
  | 'desired_revision'
  | 'applied_revision'
  | 'apply_result'
  | 'message'
  | 'last_seen'
  | 'drift'
  | 'programs'
> &
  Partial<Pick<NodeSummary, 'labels' | 'latest_revision' | 'rollout'>>;

/** "4", or "4 (latest 6)" while a rollout serves the node an older revision than the latest. */
export function formatDesired(node: NodeRow): string {
  const latest = node.latest_revision;
  return latest !== undefined && latest !== node.desired_revision
    ? `${node.desired_revision} (latest ${latest})`
    : String(node.desired_revision);
}

/** "r6 wave 2, held" / "r6 wave 1, served", or "-" outside a rollout. */
export function formatRolloutPlace(rollout: NodeSummary['rollout']): string {
  if (!rollout) return '-';
  return `${rollout.id} wave ${rollout.wave + 1}, ${rollout.served ? 'served' : 'held'}`;
}

/** "role=video,zone=eu", or "-" for none. */
export function formatLabels(labels: NodeSummary['labels']): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '-' : entries.map(([key, value]) => `${key}=${value}`).join(',');
}

/**
 * "workers running ×2 (active 3, reserved 5), py backoff (3 restarts)": per program its state,
 * process count, restarts, and, when the agent probes its workers (`inspect ping`), the tasks they
 * run (active) and hold (reserved) at their last answers, and how many stopped answering.
 */
export function formatPrograms(programs: NodeSummary['programs']): string {
  const parts = Object.entries(programs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, status]) => {
      const count = status.pids?.length ?? 0;
      const details: string[] = [];
      if (status.restarts) details.push(`${status.restarts} restart${status.restarts === 1 ? '' : 's'}`);
      details.push(...workerCounts(status.workers));
      const suffix = details.length > 0 ? ` (${details.join(', ')})` : '';
      return `${name} ${status.state ?? 'unknown'}${count > 0 ? ` ×${count}` : ''}${suffix}`;
    });
  return parts.length === 0 ? '-' : parts.join(', ');
}

type ProbedWorkers = NodeSummary['programs'][string]['workers'];

/** Active and reserved tasks summed over probed workers; null where no worker reported that count. */
function sumTaskCounts(workers: readonly NonNullable<ProbedWorkers>[string][]): {
  active: number | null;
  reserved: number | null;
} {
  let active: number | null = null;
  let reserved: number | null = null;
  for (const w of workers) {
    if (w.active !== undefined) active = (active ?? 0) + w.active;
    if (w.reserved !== undefined) reserved = (reserved ?? 0) + w.reserved;
  }
  return { active, reserved };
}

/**
 * The ACTIVE/RESERVED cell: "4/7", tasks the node's probed workers run and hold at their last
 * answers (summed over its programs); "-" when no worker of the node was probed.
 */
export function formatTaskCounts(programs: NodeSummary['programs']): string {
  const { active, reserved } = sumTaskCounts(Object.values(programs).flatMap((p) => Object.values(p.workers ?? {})));
  if (active === null && reserved === null) return '-';
  return `${active ?? '-'}/${reserved ?? '-'}`;
}

/** "active 3", "reserved 5", "1 of 2 not responding" over a program's probed workers (none: nothing). */
function workerCounts(workers: ProbedWorkers): string[] {
  const all = Object.values(workers ?? {});
  if (all.length === 0) return [];
  const { active, reserved } = sumTaskCounts(all);
  const out: string[] = [];
  if (active !== null) out.push(`active ${active}`);
  if (reserved !== null) out.push(`reserved ${reserved}`);
  const silent = all.filter((w) => !w.responding).length;
  if (silent > 0) out.push(silent === all.length ? 'not responding' : `${silent} of ${all.length} not responding`);
  return out;
}

/**
 * The nodes table; a LABELS column after NODE when any node carries labels, ROLLOUT after DESIRED
 * in a rollout, ACTIVE/RESERVED before PROGRAMS when the agents probed any worker.
 */
export function formatNodes(nodes: readonly NodeRow[], nowMs = Date.now()): string {
  const showLabels = nodes.some((n) => Object.keys(n.labels ?? {}).length > 0);
  const table = formatNodeColumns(nodes, nowMs);
  const counts = nodes.map((n) => formatTaskCounts(n.programs ?? {}));
  if (counts.some((cell) => cell !== '-')) {
    const at = table.headers.length - 1;
    table.headers.splice(at, 0, 'ACTIVE/RESERVED');
    table.rows.forEach((row, i) => {
      row.splice(at, 0, counts[i] as string);
    });
  }
  if (nodes.some((n) => n.rollout)) {
    table.headers.splice(3, 0, 'ROLLOUT');
    table.rows.forEach((row, i) => {
      row.splice(3, 0, formatRolloutPlace(nodes[i]?.rollout));
    });
  }
  if (!showLabels) return formatTable(table.headers, table.rows);
  return formatTable(
    [table.headers[0] as string, 'LABELS', ...table.headers.slice(1)],
    table.rows.map((row, i) => [row[0] as string, formatLabels(nodes[i]?.labels), ...row.slice(1)]),
  );
}

function formatNodeColumns(nodes: readonly NodeRow[], nowMs: number): { headers: string[]; rows: string[][] } {
  const rows = nodes.map((n) => [
    n.node,
    n.state,
    formatDesired(n),
    n.applied_revision === null ? '-' : String(n.applied_revision),
    n.apply_result ?? '-',
    formatAgo(n.last_seen, nowMs),
    n.drift ? 'yes' : 'no',
    formatPrograms(n.programs ?? {}),
  ]);
  return { headers: ['NODE', 'STATE', 'DESIRED', 'APPLIED', 'RESULT', 'LAST SEEN', 'DRIFT', 'PROGRAMS'], rows };
}

/** `celeriac nodes`: every node and its state. */
export async function run(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, OPTIONS);
    if (args.options.help === true) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (args.positionals.length > 0) {
      process.stderr.write(`celeriac nodes: unexpected argument: ${args.positionals.join(' ')}\n\n${USAGE}`);
      return EXIT.usage;
    }
    const selector = stringOption(args, 'select');
    if (selector !== undefined) {
      const parsed = parseSelector(selector);
      if (!parsed.ok) throw new CliUsageError(`--select: ${parsed.message}`);
    }
    const { body } = await clientFromArgs(args).request('GET', '/v1/nodes', {
      schema: nodeListResponseSchema,
      query: { selector },
    });
    if (args.options.json === true) process.stdout.write(`${JSON.stringify(body.nodes, null, 2)}\n`);
    else if (body.nodes.length === 0 && selector !== undefined)
      process.stdout.write(`no node matches the selector ${selector}\n`);
    else if (body.nodes.length === 0)
      process.stdout.write('no nodes yet: no node layer exists and no agent has reported\n');
    else {
      process.stdout.write(formatNodes(body.nodes));
      for (const n of body.nodes) {
        if (n.message && n.apply_result !== 'ok') process.stdout.write(`${n.node}: ${n.message}\n`);
      }
    }
    return EXIT.ok;
  } catch (error) {
    return reportError('celeriac nodes', error);
  }
}
