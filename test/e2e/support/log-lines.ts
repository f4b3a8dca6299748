import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { logSchemaViolations } from '@celeriac/logger';

/** One problem found in a program's log: the file, the line number, the line and what is wrong. */
export interface LogProblem {
  file: string;
  line: number;
  text: string;
  problems: string[];
}

/** Every `*.log` file under `dir` (recursively). */
export function logFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return logFiles(full);
    return entry.endsWith('.log') ? [full] : [];
  });
}

/**
 * Checks every line of `files` against the log schema: each must be a JSON object (pino's output
 * when not on a terminal) with a dotted `event` and snake_case fields.
 */
export function logSchemaProblems(files: string[]): LogProblem[] {
  const found: LogProblem[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((text, index) => {
        if (text.trim() === '') return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          found.push({ file, line: index + 1, text, problems: ['not a JSON log line'] });
          return;
        }
        const problems =
          parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
            ? logSchemaViolations(parsed as Record<string, unknown>)
            : ['not a JSON object'];
        if (problems.length > 0) found.push({ file, line: index + 1, text, problems });
      });
  }
  return found;
}

/** The files among `files` whose content contains `secret`, with how many times. */
export function filesContaining(files: string[], secret: string): Record<string, number> {
  const hits: Record<string, number> = {};
  for (const file of files) {
    const count = readFileSync(file, 'utf8').split(secret).length - 1;
    if (count > 0) hits[file] = count;
  }
  return hits;
}
