import { type NodeSummary, nodeListResponseSchema } from '@celeriac/config-schema';
import { EXIT } from '../ops/cli-errors.js';
import { CONNECTION_OPTIONS, clientFromArgs } from '../ops/connection.js';
import { type OptionSpec, parseArgs } from '../ops/parse-args.js';
import { reportError } from '../ops/report-error.js';
import { formatAgo, formatTable } from '../ops/table.js';

const USAGE = `Usage: celeriac nodes [--json] [--center <url>] [--token <token>]

Shows every node the config center knows: its state, the revision it should run (desired) and the
one its agent applied, the result of the last apply, when the agent last reported, whether the
node drifted from the center's config, and its programs with their states.

Exit codes: 0 ok, 1 other error, 2 usage, 3 auth (401/403).
`;

const OPTIONS: OptionSpec[] = [...CONNECTION_OPTIONS, { name: 'json', value: false }];

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
>;

/** "workers running ×2, py backoff (3 restarts)". */
export function formatPrograms(programs: NodeSummary['programs']): string {
  const parts = Object.entries(programs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, status]) => {
      const count = status.pids?.length ?? 0;
      const restarts = status.restarts ? ` (${status.restarts} restart${status.restarts === 1 ? '' : 's'})` : '';
      return `${name} ${status.state ?? 'unknown'}${count > 0 ? ` ×${count}` : ''}${restarts}`;
    });
  return parts.length === 0 ? '-' : parts.join(', ');
}

/** The nodes table. */
export function formatNodes(nodes: readonly NodeRow[], nowMs = Date.now()): string {
  const rows = nodes.map((n) => [
    n.node,
    n.state,
    String(n.desired_revision),
    n.applied_revision === null ? '-' : String(n.applied_revision),
    n.apply_result ?? '-',
    formatAgo(n.last_seen, nowMs),
    n.drift ? 'yes' : 'no',
    formatPrograms(n.programs ?? {}),
  ]);
  return formatTable(['NODE', 'STATE', 'DESIRED', 'APPLIED', 'RESULT', 'LAST SEEN', 'DRIFT', 'PROGRAMS'], rows);
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
    const { body } = await clientFromArgs(args).request('GET', '/v1/nodes', { schema: nodeListResponseSchema });
    if (args.options.json === true) process.stdout.write(`${JSON.stringify(body.nodes, null, 2)}\n`);
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
