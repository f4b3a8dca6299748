// The History view: revisions newest first with author, message and diff, and rollback with a reason.
import { api, clearError, handleError, session, showError } from './api.js';
import { byId, diffTable, h, utc } from './dom.js';

/** The layer the history is filtered to ('' for all). */
const filter = { layer: '' };

export function setHistoryFilter(layer) {
  filter.layer = layer;
}

async function loadLayerNames() {
  try {
    return (await api('GET', '/v1/layers')).layers;
  } catch (error) {
    handleError(error);
    return [];
  }
}

export async function loadHistory() {
  const layers = await loadLayerNames();
  const select = byId('history-filter');
  select.replaceChildren(
    h('option', { value: '', text: 'all layers' }),
    ...layers.map((entry) => h('option', { value: entry.layer, text: entry.layer })),
  );
  select.value = layers.some((entry) => entry.layer === filter.layer) ? filter.layer : '';
  try {
    const query = select.value ? `?limit=100&layer=${encodeURIComponent(select.value)}` : '?limit=100';
    const data = await api('GET', `/v1/revisions${query}`);
    renderHistory(data.revisions);
  } catch (error) {
    handleError(error);
  }
}

function renderHistory(revisions) {
  const list = byId('history-list');
  if (revisions.length === 0) {
    list.replaceChildren(h('li', { className: 'muted', text: 'No revision yet.' }));
    return;
  }
  const writable = session.who.may.write_config;
  // Newest first: the first revision seen of a layer is its current content.
  const seen = new Set();
  list.replaceChildren(
    ...revisions.map((rev) => {
      const author = rev.author || {};
      const current = !seen.has(rev.layer);
      seen.add(rev.layer);
      const item = h('li', { className: 'revision panel', 'data-revision': rev.revision }, [
        h('div', { className: 'revision-head' }, [
          h('strong', { text: `r${rev.revision}` }),
          h('span', { className: 'mono', text: rev.layer }),
          h('span', {
            className: 'badge',
            text: rev.kind === 'rollback' ? `rollback to r${rev.restored_from}` : rev.kind,
          }),
          h('span', {
            className: 'muted',
            text: `by ${author.name || '?'} (${author.role || '?'}) · ${utc(rev.time)}`,
          }),
          current ? h('span', { className: 'badge current', text: 'current' }) : null,
        ]),
        h('p', { className: 'message', text: rev.message || '(no message)' }),
        diffTable(rev.diff),
      ]);
      if (writable && !current) item.append(rollbackControls(rev));
      return item;
    }),
  );
}

function rollbackControls(rev) {
  const wrap = h('div', {});
  const inputId = `rollback-message-${rev.revision}`;
  const input = h('input', { id: inputId, type: 'text', required: true, placeholder: 'why (recorded in history)' });
  const toggle = (asking) => {
    form.hidden = !asking;
    open.hidden = asking;
    if (asking) input.focus();
  };
  const form = h('form', { className: 'rollback-form', hidden: true }, [
    h('div', {}, [
      h('label', { for: inputId, text: `Why roll back ${rev.layer} to revision ${rev.revision}?` }),
      h('br'),
      input,
    ]),
    h('button', { type: 'submit', text: 'Confirm rollback' }),
    h('button', { type: 'button', className: 'secondary', text: 'Cancel', onclick: () => toggle(false) }),
  ]);
  const open = h('button', {
    type: 'button',
    className: 'secondary',
    'aria-label': `Roll back ${rev.layer} to revision ${rev.revision}`,
    text: `Roll back to r${rev.revision}`,
    onclick: () => toggle(true),
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if (!message) {
      showError(new Error('say why you roll back: the message is recorded in the history'));
      input.focus();
      return;
    }
    clearError();
    try {
      const result = await api('POST', '/v1/rollback', { body: { revision: rev.revision, message } });
      byId('history-status').textContent = result.changed
        ? `${result.layer} restored to its content of revision ${result.restored_from} as revision ${result.revision}.`
        : `${result.layer} already has the content of revision ${result.restored_from}; nothing changed.`;
      await loadHistory();
    } catch (error) {
      handleError(error);
    }
  });
  wrap.append(open, form);
  return wrap;
}
