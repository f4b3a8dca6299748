import { isPythonIdentifier, pythonLiteral } from './python-literal.js';

/** Where a rendered `celeryconfig.py` came from, for its header comment. */
export interface CeleryconfigOrigin {
  node: string;
  program: string;
  revision: number | null;
}

/**
 * Renders a Python `celeryconfig.py` from effective Celery settings (lowercase names: broker_url,
 * result_backend, task_routes, task_annotations, task_serializer, accept_content, ...), one
 * assignment per setting in sorted order so that the same settings always give the same bytes.
 * Names that cannot be Python identifiers are left out (Celery could not read them anyway).
 */
export function renderCeleryconfig(settings: Record<string, unknown>, origin: CeleryconfigOrigin): string {
  const lines = [
    '# celeryconfig.py rendered by the Celeriac agent',
    `# node ${origin.node}, program ${origin.program}, revision ${origin.revision ?? 'none'}.`,
    '# Change settings in the config center; a hand edit here is applied but reported as drift.',
    '',
  ];
  for (const name of Object.keys(settings).sort()) {
    const value = settings[name];
    if (value === undefined || !isPythonIdentifier(name)) continue;
    lines.push(`${name} = ${pythonLiteral(value, name)}`);
  }
  return `${lines.join('\n')}\n`;
}
