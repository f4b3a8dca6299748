import { withCeleryWorkerDefaults } from '@celeriac/config-schema';
import { pythonCelerySettings } from '@celeriac/redis-connection/url';
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
 * Broker and backend connections are written in the forms Celery 5.2 reads, so the Python worker
 * connects where and how a Celeriac worker does (unix:// as redis+socket://, ssl_* and
 * master_name from a URL query into broker_use_ssl / transport options; see pythonCelerySettings).
 * The agent's defaults fill unset keys (`worker_send_task_events = True`, so that the program's
 * health is measured from its task events; CELERY_WORKER_DEFAULTS); a layer's `false` is kept.
 */
export function renderCeleryconfig(given: Record<string, unknown>, origin: CeleryconfigOrigin): string {
  const settings = pythonCelerySettings(withCeleryWorkerDefaults(given));
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
