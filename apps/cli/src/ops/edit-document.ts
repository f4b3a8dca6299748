import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './cli-errors.js';
import { parseDocument } from './read-document.js';

/** Outcome of one check of the edited document. */
export type EditCheck<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** What the editor flow needs. */
export interface EditDocumentOptions<T> {
  /** The document to start from. */
  initial: unknown;
  /** Comment lines shown above the document (without "# "). */
  header: string[];
  /** Editor command line, run through the shell with the file as its last argument. */
  editor: string;
  /** Parses and validates the edited document. */
  check(doc: unknown): EditCheck<T>;
  /** Where problems are reported between rounds. */
  stderr?: NodeJS.WritableStream;
}

/** The edited document, or why nothing is to be sent. */
export type EditOutcome<T> = { kind: 'edited'; value: T; doc: unknown } | { kind: 'empty' };

function comment(lines: readonly string[]): string {
  return lines.map((line) => (line === '' ? '#' : `# ${line}`)).join('\n');
}

function runEditor(editor: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'celeriac-editor', file], { stdio: 'inherit' });
    child.once('error', (error) =>
      reject(new CliError('CLI_EDITOR_FAILED', `cannot start the editor "${editor}": ${error.message}`, EXIT.other)),
    );
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else {
        reject(
          new CliError(
            'CLI_EDITOR_FAILED',
            `the editor "${editor}" exited with ${signal ?? `code ${code}`}; nothing was sent`,
            EXIT.other,
          ),
        );
      }
    });
  });
}

/** Drops the comment lines the CLI wrote (and any other line starting with "#"). */
export function stripComments(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
}

/**
 * Opens `editor` on a temp file holding the document as JSON, then parses and checks what was saved.
 * An invalid document re-opens the editor with the problems listed at the top; an empty file
 * aborts; saving the same invalid text twice gives up (exit 4). The temp file is always removed.
 */
export async function editDocument<T>(options: EditDocumentOptions<T>): Promise<EditOutcome<T>> {
  const stderr = options.stderr ?? process.stderr;
  const dir = await mkdtemp(path.join(tmpdir(), 'celeriac-edit-'));
  const file = path.join(dir, 'layer.json');
  const help = ['Lines starting with "#" are ignored. Save and quit to continue; empty the file to abort.'];
  let body = `${JSON.stringify(options.initial, null, 2)}\n`;
  let problems: string[] = [];
  let lastInvalid: string | undefined;
  try {
    for (;;) {
      const header = [...options.header, ...help];
      if (problems.length > 0) header.push('', 'The last edit was refused:', ...problems.map((p) => `  ${p}`));
      await writeFile(file, `${comment(header)}\n${body}`, { mode: 0o600 });
      await runEditor(options.editor, file);
      const edited = stripComments(await readFile(file, 'utf8'));
      if (edited.trim() === '') return { kind: 'empty' };
      if (lastInvalid !== undefined && edited.trim() === lastInvalid.trim()) {
        throw new CliError(
          'CLI_DOCUMENT_INVALID',
          'the document is still invalid and was not changed; nothing was sent',
          EXIT.validation,
          problems,
        );
      }
      body = edited.endsWith('\n') ? edited : `${edited}\n`;
      let doc: unknown;
      try {
        doc = parseDocument(edited, 'the edited document');
      } catch (error) {
        problems = [(error as Error).message];
        lastInvalid = edited;
        stderr.write(`the edited document is not valid JSON or YAML; re-opening the editor\n`);
        continue;
      }
      const checked = options.check(doc);
      if (checked.ok) return { kind: 'edited', value: checked.value, doc };
      problems = checked.problems;
      lastInvalid = edited;
      stderr.write(`the edited document has ${problems.length} problem(s); re-opening the editor:\n`);
      for (const problem of problems) stderr.write(`  ${problem}\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
