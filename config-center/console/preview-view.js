// The impact preview shown before a Save is sent: per node and program, restart or not and why,
// and how many processes stop taking tasks at once (POST /v1/preview, nothing written).
import { diffTable, h } from './dom.js';

const plural = (count, one, many) => `${count} ${count === 1 ? one : many || `${one}s`}`;

function programRow(node, name, impact) {
  const out =
    impact.processes_out_at_once > 0
      ? `${plural(impact.processes_out_at_once, 'process', 'processes')} (${plural(impact.worker_slots_out_at_once, 'worker slot')})`
      : '—';
  return h('tr', { 'data-node': node, 'data-program': name, className: impact.action === 'none' ? 'muted' : '' }, [
    h('td', { text: node }),
    h('td', { text: name }),
    h('td', {}, [
      h('span', {
        className: `badge ${impact.action === 'none' ? 'good' : 'warn'}`,
        text: impact.action === 'none' ? 'no restart' : impact.action,
      }),
    ]),
    h('td', { text: out }),
    h('td', { text: impact.reasons.join('; ') || '—' }),
  ]);
}

/** One sentence for the whole write. */
export function previewSummary(preview) {
  const t = preview.totals;
  if (!preview.changed) return 'The document is the same as the stored one: nothing would change.';
  if (preview.nodes.length === 0) {
    return `No node's merged config changes${preview.unchanged_nodes ? ` (${plural(preview.unchanged_nodes, 'node')} unchanged)` : ''}: nothing restarts.`;
  }
  return (
    `${plural(t.nodes_changed, 'node')} change, ${plural(t.programs_restarting, 'program')} restart; ` +
    `at most ${plural(t.processes_out_at_once, 'process', 'processes')} (${plural(t.worker_slots_out_at_once, 'worker slot')}) ` +
    'out of service at once (rolling: replacements are ready before the old processes drain)' +
    (t.worker_slots_removed > 0 ? `; ${plural(t.worker_slots_removed, 'worker slot')} removed for good.` : '.')
  );
}

/** The preview panel with Confirm and Cancel buttons. */
export function previewPanel(preview, onConfirm, onCancel) {
  const rows = [];
  for (const node of preview.nodes) {
    for (const [name, impact] of Object.entries(node.programs).sort(([a], [b]) => a.localeCompare(b))) {
      rows.push(programRow(node.node, name, impact));
    }
  }
  const table =
    rows.length === 0
      ? null
      : h('table', { id: 'preview-table', className: 'diff' }, [
          h('thead', {}, [
            h(
              'tr',
              {},
              ['Node', 'Program', 'Action', 'Out at once', 'Why'].map((label) =>
                h('th', { scope: 'col', text: label }),
              ),
            ),
          ]),
          h('tbody', {}, rows),
        ]);
  return h('div', { className: 'preview', id: 'preview' }, [
    h('h3', { text: 'Before saving: what this change does' }),
    h('p', { id: 'preview-summary', text: previewSummary(preview) }),
    diffTable(preview.diff),
    table,
    h('div', { className: 'row' }, [
      h('button', { type: 'button', id: 'confirm-save', onclick: onConfirm }, ['Confirm save']),
      h('button', { type: 'button', className: 'secondary', id: 'cancel-save', onclick: onCancel }, ['Cancel']),
    ]),
  ]);
}
