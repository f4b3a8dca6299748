import { parse as parseYaml } from 'yaml';
import { CliUsageError } from './cli-errors.js';

/** Parses a JSON or YAML document (JSON first; `format` forces one). Throws CliUsageError naming `source`. */
export function parseDocument(text: string, source: string, format?: 'json' | 'yaml'): unknown {
  if (format !== 'yaml') {
    try {
      return JSON.parse(text);
    } catch (error) {
      if (format === 'json') throw new CliUsageError(`${source} is not valid JSON: ${(error as Error).message}`);
    }
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw new CliUsageError(`${source} is neither valid JSON nor YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** The format a file name implies. */
export function formatOfFile(file: string): 'json' | 'yaml' | undefined {
  if (/\.ya?ml$/i.test(file)) return 'yaml';
  if (/\.json$/i.test(file)) return 'json';
  return undefined;
}
