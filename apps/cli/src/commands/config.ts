import { readFile } from 'node:fs/promises';
import {
  diffResponseSchema,
  formatIssues,
  impactPreviewResponseSchema,
  LAYER_NAME_RULE,
  type LayerWriteResponse,
  layerListResponseSchema,
  layerResponseSchema,
  layerWriteResponseSchema,
  parseLayerName,
  type RollbackResponse,
  revisionListResponseSchema,
  revisionSchema,
  rollbackResponseSchema,
  validateLayer,
} from '@celeriac/config-schema';
import { stringify as toYaml } from 'yaml';
import { type CenterClient, CenterRequestError } from '../ops/center-client.js';
import { CliUsageError, EXIT } from '../ops/cli-errors.js';
import { CONNECTION_OPTIONS, clientFromArgs } from '../ops/connection.js';
import { diffDocuments, formatDiff } from '../ops/diff-format.js';
import { editDocument, stripComments } from '../ops/edit-document.js';
import { type OptionSpec, type ParsedArgs, parseArgs, stringOption } from '../ops/parse-args.js';
import { formatPreview, formatRevisionRollout } from '../ops/preview-format.js';
import { askYesNo } from '../ops/prompt.js';
import { formatOfFile, parseDocument } from '../ops/read-document.js';
import { readLayer } from '../ops/read-layer.js';
import { reportError } from '../ops/report-error.js';
import { parseRolloutOption } from '../ops/rollout-option.js';
import { parseAssignment, parsePath, setPath, unsetPath } from '../ops/set-path.js';
import { formatTable } from '../ops/table.js';

const USAGE = `Usage: celeriac config <command> [options]

Commands:
  get <layer> [-o json|yaml]                 print a layer document (its revision goes to stderr)
  set <layer> <path>=<value> [...] [-m why]  change values in a layer (add --dry-run to see what restarts)
  unset <layer> <path> [...] [-m why]        remove keys from a layer
  apply <layer> -f <file|-> [-m why]         replace a layer with a JSON or YAML file
  edit <layer> [-m why] [--yes]              edit a layer in $VISUAL/$EDITOR, check it, confirm the diff, send
  diff <revA> <revB>                         what changed between two revisions (layers and nodes)
  history [<layer> | --node <n>] [--limit n] revisions, newest first
  rollback <rev> [-m why]                    restore the layer of <rev> to its content at <rev>
  layers                                     every layer and its revision

Layers: defaults, groups/<group>, nodes/<node>.

Paths: keys separated by dots. Quote a key that holds dots, or put it in brackets:
  celery.task_annotations."tasks.add".rate_limit=10/s      (single-quote the whole argument in a shell)
  'celery.task_annotations["tasks.add"].rate_limit=10/s'   (the form error messages print)
  celery.task_annotations[tasks.add].rate_limit=10/s
Values are read as JSON when they parse as JSON (16, true, null, ["json","msgpack"], {"queue":"q"},
"016"), else as text (10/s, msgpack). null in a layer removes the key from the merged config.

Writes send If-Match with the revision read just before (or --revision <n> to base the change on an
older read); a change made meanwhile is refused (exit 5), never overwritten.

Options:
  --center <url>   config center (env CELERIAC_CENTER, default http://127.0.0.1:8700)
  --token <token>  bearer token (env CELERIAC_TOKEN)
  -m, --message    why the change is made (recorded in the revision)
  --dry-run        set, unset, apply, edit: write nothing; show per node and program what would
                   restart and why, how many workers would be out of service at once, and which
                   rollout policy would apply with its waves
  --rollout <p>    set, unset, apply, edit: roll the change out with policy <p> (JSON, or @file in
                   JSON/YAML; see docs/rollouts.md), or 'none' to send it to every node at once even
                   if a layer has a default_rollout. Without it the nearest layer's default applies
                   (the node layer, its groups, then defaults); the answer says which
  --ca-file <pem>  CA certificates to verify an https:// center (env CELERIAC_CA_FILE)

Exit codes: 0 ok, 1 other error, 2 usage, 3 auth (401/403), 4 validation (400), 5 conflict (409).
`;

const OPTIONS: OptionSpec[] = [
  ...CONNECTION_OPTIONS,
  { name: 'message', short: 'm', value: true },
  { name: 'file', short: 'f', value: true },
  { name: 'output', short: 'o', value: true },
  { name: 'node', value: true },
  { name: 'limit', value: true },
  { name: 'revision', value: true },
  { name: 'yes', short: 'y', value: false },
  { name: 'json', value: false },
  { name: 'dry-run', value: false },
  { name: 'rollout', value: true },
];

function out(text: string): void {
  process.stdout.write(text);
}

function requireLayer(value: string | undefined): string {
  if (value === undefined) throw new CliUsageError('name the layer: defaults, groups/<group> or nodes/<node>');
  if (!parseLayerName(value)) throw new CliUsageError(`"${value}" is not a layer; ${LAYER_NAME_RULE}`);
  return value;
}

function requireRevision(value: string | undefined, what: string): number {
  if (value === undefined || !/^\d{1,15}$/.test(value)) {
    throw new CliUsageError(
      `${what} must be a revision number, e.g. 12${value === undefined ? '' : ` (not "${value}")`}`,
    );
  }
  return Number(value);
}

function noExtra(args: ParsedArgs, count: number): void {
  const extra = args.positionals.slice(count);
  if (extra.length > 0)
    throw new CliUsageError(`unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(' ')}`);
}

/** The revision a write is based on: --revision, else the one just read. */
function baseRevision(args: ParsedArgs, read: number): number {
  const given = stringOption(args, 'revision');
  return given === undefined ? read : requireRevision(given, '--revision');
}

/** The write's `rollout` member from --rollout (absent: the layers' default applies). */
function rolloutMember(args: ParsedArgs): { rollout?: Record<string, unknown> | null } {
  const rollout = parseRolloutOption(stringOption(args, 'rollout'));
  return rollout === undefined ? {} : { rollout };
}

/** Sends the whole layer; the center validates it. Local warnings (likely typos) go to stderr. */
async function putLayer(
  client: CenterClient,
  args: ParsedArgs,
  layer: string,
  document: Record<string, unknown>,
  ifMatch: number,
  message: string,
): Promise<LayerWriteResponse> {
  const body = { ...document, message, ...rolloutMember(args) };
  const result = (
    await client.request('PUT', `/v1/layers/${layer}`, { body, ifMatch, schema: layerWriteResponseSchema })
  ).body;
  const local = validateLayer(layer, document);
  if (local.ok) for (const warning of local.warnings) process.stderr.write(`warning: ${warning}\n`);
  return result;
}

/** `--dry-run`: the center checks the write exactly as it would and says what it would restart. */
async function previewLayer(
  client: CenterClient,
  args: ParsedArgs,
  layer: string,
  document: Record<string, unknown>,
  ifMatch: number,
): Promise<void> {
  const local = validateLayer(layer, document);
  if (local.ok) for (const warning of local.warnings) process.stderr.write(`warning: ${warning}\n`);
  const { body } = await client.request('POST', '/v1/preview', {
    query: { layer, kind: 'put' },
    body: { ...document, ...rolloutMember(args) },
    ifMatch,
    schema: impactPreviewResponseSchema,
  });
  for (const line of formatPreview(body)) out(`${line}\n`);
}

/** Writes the layer, or with --dry-run previews the write. */
async function sendLayer(
  client: CenterClient,
  args: ParsedArgs,
  layer: string,
  document: Record<string, unknown>,
  ifMatch: number,
  message: string,
): Promise<void> {
  if (args.options['dry-run'] === true) await previewLayer(client, args, layer, document, ifMatch);
  else await printWritten(client, await putLayer(client, args, layer, document, ifMatch, message));
}

/** Prints a write's answer and, when a rollout policy applied or was bypassed, which (from its revision). */
async function printWritten(client: CenterClient, result: LayerWriteResponse): Promise<void> {
  printWrite(result);
  if (!result.changed) return;
  const { body } = await client.request('GET', `/v1/revisions/${result.revision}`, { schema: revisionSchema });
  const line = formatRevisionRollout(body.rollout, result.revision);
  if (line) out(`${line}\n`);
}

function printWrite(result: LayerWriteResponse | RollbackResponse): void {
  if (!result.changed) {
    out(`${result.layer}: no change (still at revision ${result.revision})\n`);
    return;
  }
  const restored = 'restored_from' in result ? ` restores revision ${result.restored_from}` : '';
  const count = result.diff.length;
  out(`${result.layer}: revision ${result.revision}${restored}, ${count} change${count === 1 ? '' : 's'}\n`);
  for (const line of formatDiff(result.diff, '  ')) out(`${line}\n`);
}

async function get(client: CenterClient, args: ParsedArgs): Promise<number> {
  const layer = requireLayer(args.positionals[1]);
  noExtra(args, 2);
  const format = stringOption(args, 'output') ?? 'json';
  if (format !== 'json' && format !== 'yaml') throw new CliUsageError(`-o ${format}: use json or yaml`);
  const { body } = await client.request('GET', `/v1/layers/${layer}`, { schema: layerResponseSchema });
  process.stderr.write(`# ${layer} at revision ${body.revision}\n`);
  out(format === 'yaml' ? toYaml(body.document) : `${JSON.stringify(body.document, null, 2)}\n`);
  return EXIT.ok;
}

async function set(client: CenterClient, args: ParsedArgs): Promise<number> {
  const layer = requireLayer(args.positionals[1]);
  const assignments = args.positionals.slice(2).map(parseAssignment);
  if (assignments.length === 0)
    throw new CliUsageError('give at least one path=value, e.g. celery.task_serializer=msgpack');
  const current = await readLayer(client, layer);
  let document = current.document;
  for (const { path, value } of assignments) document = setPath(document, path, value);
  const message = stringOption(args, 'message') ?? `config set ${args.positionals.slice(2).join(' ')}`;
  await sendLayer(client, args, layer, document, baseRevision(args, current.revision), message);
  return EXIT.ok;
}

async function unset(client: CenterClient, args: ParsedArgs): Promise<number> {
  const layer = requireLayer(args.positionals[1]);
  const paths = args.positionals.slice(2).map(parsePath);
  if (paths.length === 0)
    throw new CliUsageError('give at least one path to remove, e.g. celery.task_default_rate_limit');
  const current = await readLayer(client, layer);
  let document = current.document;
  for (const path of paths) document = unsetPath(document, path);
  const message = stringOption(args, 'message') ?? `config unset ${args.positionals.slice(2).join(' ')}`;
  await sendLayer(client, args, layer, document, baseRevision(args, current.revision), message);
  return EXIT.ok;
}

async function readInput(file: string): Promise<string> {
  if (file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new CliUsageError(
        `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function apply(client: CenterClient, args: ParsedArgs): Promise<number> {
  const layer = requireLayer(args.positionals[1]);
  noExtra(args, 2);
  const file = stringOption(args, 'file');
  if (file === undefined)
    throw new CliUsageError('give the document with -f <file.json|file.yaml> (or -f - for stdin)');
  const doc = parseDocument(stripComments(await readInput(file)), file === '-' ? 'stdin' : file, formatOfFile(file));
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CliUsageError(`${file} must hold one JSON object (a layer document), e.g. {"celery": {...}}`);
  }
  const current = await readLayer(client, layer);
  const message = stringOption(args, 'message') ?? `config apply -f ${file}`;
  await sendLayer(client, args, layer, doc as Record<string, unknown>, baseRevision(args, current.revision), message);
  return EXIT.ok;
}

async function edit(client: CenterClient, args: ParsedArgs): Promise<number> {
  const layer = requireLayer(args.positionals[1]);
  noExtra(args, 2);
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const current = await readLayer(client, layer);
  const outcome = await editDocument({
    initial: current.document,
    editor,
    header: [
      `Editing ${layer} at revision ${current.revision} on ${client.displayUrl}.`,
      'Layers hold "celery" (Celery settings), "programs", "default_rollout" and, for nodes, "groups" and "labels"; null removes a key.',
    ],
    check: (doc) => {
      const result = validateLayer(layer, doc);
      return result.ok
        ? { ok: true, value: result.value }
        : { ok: false, problems: formatIssues(result.issues).split('\n') };
    },
  });
  if (outcome.kind === 'empty') {
    process.stderr.write('the file was emptied: edit cancelled, nothing was sent\n');
    return EXIT.ok;
  }
  const changes = diffDocuments(current.document, outcome.doc);
  if (changes.length === 0) {
    out(`${layer}: no change (still at revision ${current.revision})\n`);
    return EXIT.ok;
  }
  out(`${layer}: ${changes.length} change${changes.length === 1 ? '' : 's'}\n`);
  for (const line of formatDiff(changes, '  ')) out(`${line}\n`);
  if (args.options['dry-run'] === true) {
    await previewLayer(
      client,
      args,
      layer,
      outcome.doc as Record<string, unknown>,
      baseRevision(args, current.revision),
    );
    return EXIT.ok;
  }
  if (args.options.yes !== true && !(await askYesNo(`Send this change to ${client.displayUrl}?`))) {
    process.stderr.write('not sent\n');
    return EXIT.ok;
  }
  const message = stringOption(args, 'message') ?? 'config edit';
  await printWritten(
    client,
    await putLayer(
      client,
      args,
      layer,
      outcome.doc as Record<string, unknown>,
      baseRevision(args, current.revision),
      message,
    ),
  );
  return EXIT.ok;
}

async function diff(client: CenterClient, args: ParsedArgs): Promise<number> {
  const from = requireRevision(args.positionals[1], 'the first revision');
  const to = requireRevision(args.positionals[2], 'the second revision');
  noExtra(args, 3);
  const { body } = await client.request('GET', '/v1/diff', { query: { from, to }, schema: diffResponseSchema });
  if (args.options.json === true) {
    out(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT.ok;
  }
  if (body.layers.length === 0 && body.nodes.length === 0) {
    out(`no differences between revision ${body.from} and revision ${body.to}\n`);
    return EXIT.ok;
  }
  out(`revision ${body.from} → revision ${body.to}\n`);
  for (const entry of body.layers) {
    out(`layer ${entry.layer}:\n`);
    for (const line of formatDiff(entry.changes, '  ')) out(`${line}\n`);
  }
  for (const entry of body.nodes) {
    out(`node ${entry.node} (merged config):\n`);
    for (const line of formatDiff(entry.changes, '  ')) out(`${line}\n`);
  }
  return EXIT.ok;
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z');
}

async function history(client: CenterClient, args: ParsedArgs): Promise<number> {
  const node = stringOption(args, 'node');
  const layerArg = args.positionals[1];
  if (node !== undefined && layerArg !== undefined)
    throw new CliUsageError('give either a layer or --node <node>, not both');
  const layer = layerArg === undefined ? undefined : requireLayer(layerArg);
  noExtra(args, layerArg === undefined ? 1 : 2);
  const limit = stringOption(args, 'limit');
  const query = { layer, node, limit: limit === undefined ? undefined : requireRevision(limit, '--limit') };
  const { body } = await client.request('GET', '/v1/revisions', { query, schema: revisionListResponseSchema });
  if (args.options.json === true) {
    out(`${JSON.stringify(body.revisions, null, 2)}\n`);
    return EXIT.ok;
  }
  if (body.revisions.length === 0) {
    out('no revisions yet\n');
    return EXIT.ok;
  }
  const rows = body.revisions.map((r) => [
    String(r.revision),
    shortTime(r.time),
    r.layer,
    r.restored_from === undefined ? r.kind : `${r.kind} of ${r.restored_from}`,
    `${r.author.name} (${r.author.role})`,
    String(r.diff.length),
    r.message,
  ]);
  out(formatTable(['REV', 'TIME', 'LAYER', 'KIND', 'AUTHOR', 'CHANGES', 'MESSAGE'], rows));
  return EXIT.ok;
}

async function rollback(client: CenterClient, args: ParsedArgs): Promise<number> {
  const revision = requireRevision(args.positionals[1], 'the revision to restore');
  noExtra(args, 2);
  const target = (await client.request('GET', `/v1/revisions/${revision}`, { schema: revisionSchema })).body;
  const current = await readLayer(client, target.layer);
  const message = stringOption(args, 'message') ?? `rollback to revision ${revision}`;
  const { body } = await client.request('POST', '/v1/rollback', {
    schema: rollbackResponseSchema,
    body: { revision, message },
    ifMatch: baseRevision(args, current.revision),
  });
  printWrite(body);
  return EXIT.ok;
}

async function layers(client: CenterClient, args: ParsedArgs): Promise<number> {
  noExtra(args, 1);
  const { body } = await client.request('GET', '/v1/layers', { schema: layerListResponseSchema });
  if (body.layers.length === 0) out('no layers yet\n');
  else
    out(
      formatTable(
        ['LAYER', 'REVISION'],
        body.layers.map((l) => [l.layer, String(l.revision)]),
      ),
    );
  return EXIT.ok;
}

const SUBCOMMANDS: Record<string, (client: CenterClient, args: ParsedArgs) => Promise<number>> = {
  get,
  set,
  unset,
  apply,
  edit,
  diff,
  history,
  rollback,
  layers,
};

/** `celeriac config <command>`: read and change the central config. */
export async function run(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, OPTIONS);
    const name = args.positionals[0];
    if (args.options.help === true || name === 'help') {
      out(USAGE);
      return EXIT.ok;
    }
    const subcommand = name === undefined ? undefined : SUBCOMMANDS[name];
    if (!subcommand) {
      process.stderr.write(`${name === undefined ? '' : `celeriac config: unknown command "${name}"\n\n`}${USAGE}`);
      return EXIT.usage;
    }
    return await subcommand(clientFromArgs(args), args);
  } catch (error) {
    if (error instanceof CenterRequestError && error.status === 409) {
      error.details.push(
        'someone changed the layer after it was read; look at "celeriac config history <layer>" and run the command again',
      );
    }
    return reportError('celeriac config', error);
  }
}
