import { CliUsageError, EXIT } from '../ops/cli-errors.js';
import { CONNECTION_OPTIONS, clientFromArgs } from '../ops/connection.js';
import { type OptionSpec, parseArgs } from '../ops/parse-args.js';
import { reportError } from '../ops/report-error.js';
import { formatTable } from '../ops/table.js';

const USAGE = `Usage: celeriac rollout status [<id>] [--json]
       celeriac rollout pause|resume|promote|abort <id>
       [--center <url>] [--token <token>] [--ca-file <pem>]

Progressive rollouts (docs/rollouts.md): a write that carries a "rollout" policy is served wave by
wave; each wave's gates are held against the nodes not yet changed for its soak time before the
next wave, and a breach rolls the change back by itself.

  status [<id>]   every rollout (newest first), or one with its waves, gates and events
  pause <id>      serve no further node; gates are still watched and a breach still rolls back
  resume <id>     carry on
  promote <id>    go to the next wave now, whatever the soak
  abort <id>      roll the change back on every node (a new revision) and stop

Exit codes: 0 ok, 1 other error, 2 usage, 3 auth (401/403), 5 conflict (the rollout is not in a state that takes the command).
`;

const OPTIONS: OptionSpec[] = [...CONNECTION_OPTIONS, { name: 'json', value: false }];
const COMMANDS = ['pause', 'resume', 'promote', 'abort'] as const;

/** The parts of a rollout (GET /v1/rollouts) the CLI shows. */
export interface RolloutView {
  id: string;
  revision: number;
  layer: string;
  state: string;
  wave: number;
  waves: { nodes: string[]; soak_ms: number }[];
  served: string[];
  last_reason: string;
  last_gates: { gate: string; verdict: string; measured: number | null; bound: number | null; detail: string }[];
  rollback_revision?: number;
  events: { at: string; event: string; wave: number; detail: string }[];
}

/** One line per rollout: id, revision, layer, state, wave n/m, served count, why. */
export function formatRolloutList(rollouts: readonly RolloutView[]): string {
  return formatTable(
    ['ID', 'REVISION', 'LAYER', 'STATE', 'WAVE', 'SERVED', 'REASON'],
    rollouts.map((r) => [
      r.id,
      String(r.revision),
      r.layer,
      r.state,
      `${Math.min(r.wave + 1, r.waves.length)}/${r.waves.length}`,
      `${r.served.length}/${r.waves.reduce((sum, w) => sum + w.nodes.length, 0)}`,
      r.last_reason,
    ]),
  );
}

/** One rollout: its waves (current one marked), its gates with measured values and bounds, its events. */
export function formatRollout(r: RolloutView): string {
  const lines = [`rollout ${r.id}: revision ${r.revision} of ${r.layer}, ${r.state} (${r.last_reason})`];
  if (r.rollback_revision !== undefined) lines.push(`rolled back by revision ${r.rollback_revision}`);
  lines.push('waves:');
  r.waves.forEach((wave, i) => {
    const mark = i === r.wave && (r.state === 'running' || r.state === 'paused') ? '>' : ' ';
    const served = wave.nodes.filter((n) => r.served.includes(n)).length;
    lines.push(
      `${mark} ${i + 1}. ${wave.nodes.join(', ')} (soak ${wave.soak_ms / 1000}s, ${served}/${wave.nodes.length} served)`,
    );
  });
  if (r.last_gates.length > 0) {
    lines.push('gates:');
    lines.push(
      formatTable(
        ['GATE', 'VERDICT', 'MEASURED', 'BOUND', 'DETAIL'],
        r.last_gates.map((g) => [g.gate, g.verdict, String(g.measured ?? '-'), String(g.bound ?? '-'), g.detail]),
      ).trimEnd(),
    );
  }
  lines.push('events:');
  for (const e of r.events) lines.push(`  ${e.at} wave ${e.wave + 1} ${e.event}: ${e.detail}`);
  return `${lines.join('\n')}\n`;
}

/** `celeriac rollout`: status, pause, resume, promote, abort. */
export async function run(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, OPTIONS);
    if (args.options.help === true || args.positionals.length === 0) {
      process.stdout.write(USAGE);
      return args.positionals.length === 0 && args.options.help !== true ? EXIT.usage : EXIT.ok;
    }
    const [command, id, ...extra] = args.positionals as [string, string | undefined, ...string[]];
    if (extra.length > 0) throw new CliUsageError(`unexpected argument: ${extra.join(' ')}`);
    const client = clientFromArgs(args);
    const json = args.options.json === true;
    if (command === 'status') {
      if (id !== undefined) {
        const { body } = await client.request('GET', `/v1/rollouts/${encodeURIComponent(id)}`);
        process.stdout.write(json ? `${JSON.stringify(body, null, 2)}\n` : formatRollout(body as RolloutView));
        return EXIT.ok;
      }
      const { body } = await client.request('GET', '/v1/rollouts');
      const rollouts = (body as { rollouts: RolloutView[] }).rollouts;
      if (json) process.stdout.write(`${JSON.stringify(rollouts, null, 2)}\n`);
      else if (rollouts.length === 0)
        process.stdout.write('no rollouts yet: a write with a "rollout" policy starts one\n');
      else process.stdout.write(formatRolloutList(rollouts));
      return EXIT.ok;
    }
    if (!(COMMANDS as readonly string[]).includes(command))
      throw new CliUsageError(`unknown rollout command ${JSON.stringify(command)}; use status, ${COMMANDS.join(', ')}`);
    if (id === undefined)
      throw new CliUsageError(`celeriac rollout ${command} needs the rollout id (see: celeriac rollout status)`);
    const { body } = await client.request('POST', `/v1/rollouts/${encodeURIComponent(id)}/${command}`, { body: {} });
    process.stdout.write(json ? `${JSON.stringify(body, null, 2)}\n` : formatRollout(body as RolloutView));
    return EXIT.ok;
  } catch (error) {
    return reportError('celeriac rollout', error);
  }
}
