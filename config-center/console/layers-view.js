// The Layers view: the layer list, and an editor that saves with If-Match and shows issues and conflicts.
import { ApiError, api, clearError, handleError, session } from './api.js';
import { byId, diffTable, h, layerPath } from './dom.js';
import { previewPanel } from './preview-view.js';

/** Codes of answers that refuse the document itself: shown as issues beside the editor. */
const REFUSED_DOCUMENT = ['CENTER_VALIDATION_FAILED', 'CENTER_DOCUMENT_TOO_DEEP'];

/** The layer open in the editor and the revision it was read at (null: a new layer). */
const editorState = { current: null };

/** Forgets the open layer (on sign-out). */
export function closeEditor() {
  editorState.current = null;
  byId('layer-doc').value = '';
  byId('editor').hidden = true;
}

/** The layer open in the editor, if any. */
export function openLayerName() {
  return editorState.current?.layer ?? null;
}

export async function loadLayerList() {
  try {
    const data = await api('GET', '/v1/layers');
    const current = openLayerName();
    byId('layer-list').replaceChildren(
      ...data.layers.map((entry) =>
        h('li', {}, [
          h(
            'button',
            {
              type: 'button',
              'aria-current': entry.layer === current ? 'true' : 'false',
              onclick: () => openLayer(entry.layer),
            },
            [`${entry.layer} `, h('span', { className: 'muted', text: `r${entry.revision}` })],
          ),
        ]),
      ),
    );
    if (data.layers.length === 0) byId('layer-list').append(h('li', { className: 'muted', text: 'No layer yet.' }));
    return data.layers;
  } catch (error) {
    handleError(error);
    return [];
  }
}

export async function openLayer(name) {
  clearError();
  byId('editor-feedback').replaceChildren();
  // Text typed while the layer loads would be overwritten by it: the editor waits, busy.
  setEditable(false);
  try {
    const data = await api('GET', `/v1/layers/${layerPath(name)}`);
    setEditor(name, data.revision, data.document);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) setEditor(name, null, {});
    else handleError(error);
  } finally {
    setEditable(session.who.may.write_config);
  }
  loadLayerList();
}

/** Whether the editor takes edits now (busy while a layer loads, and for tokens that may not write). */
function setEditable(writable) {
  byId('editor').setAttribute('aria-busy', String(!writable && session.who.may.write_config));
  byId('layer-doc').readOnly = !writable;
  byId('save-layer').disabled = !writable;
  byId('change-message').disabled = !writable;
}

function setEditor(layer, revision, doc) {
  const writable = session.who.may.write_config;
  editorState.current = { layer, revision };
  byId('editor').hidden = false;
  byId('editor-title').textContent = layer;
  byId('editor-revision').textContent =
    revision === null
      ? 'New layer: saving creates it.'
      : `Revision ${revision}; saving sends If-Match: ${revision}, so a change made meanwhile is refused, not overwritten.`;
  byId('layer-doc').value = JSON.stringify(doc, null, 2);
  byId('read-only-note').hidden = writable;
}

function feedback(className, title, children) {
  const box = h('div', { className }, [h('h3', { text: title }), ...children]);
  byId('editor-feedback').replaceChildren(box);
  return box;
}

function showIssues(message, issues) {
  feedback('issues', 'Not saved', [
    h('p', { text: message }),
    h(
      'ul',
      { id: 'issue-list' },
      issues.map((issue) =>
        h('li', {}, [
          h('code', { className: 'issue-path', text: issue.path || '(document)' }),
          `: ${issue.message}`,
          issue.node
            ? h('span', { className: 'muted', text: ` (in the effective config of node ${issue.node})` })
            : null,
        ]),
      ),
    ),
  ]);
}

function showConflict(error) {
  const { layer, revision } = editorState.current;
  const current = error.currentRevision;
  const opened = revision === null ? 'it' : `revision ${revision}`;
  feedback('conflict', 'Conflict: not saved', [
    h('p', {
      text: `${layer} changed since you opened ${opened}${current === null ? '' : `; it is now at revision ${current}`}.`,
    }),
    h('p', { className: 'muted', text: error.message }),
    h('p', { text: 'Your text stays in the editor until you reload; copy what you need first.' }),
    h('button', { type: 'button', id: 'reload-conflict', onclick: () => openLayer(layer) }, [
      current === null ? 'Reload the current revision' : `Reload revision ${current}`,
    ]),
  ]);
}

/** Reads the editor's JSON; shows why nothing was sent when it is not a JSON object. */
function editedDocument() {
  let doc;
  try {
    doc = JSON.parse(byId('layer-doc').value);
  } catch (error) {
    showIssues('The document is not valid JSON; nothing was sent.', [{ path: '(document)', message: error.message }]);
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    showIssues('A layer is a JSON object; nothing was sent.', [
      { path: '(document)', message: 'expected an object like {"celery": {...}}' },
    ]);
    return undefined;
  }
  return doc;
}

/** The request of a Save: If-Match of the revision opened, and the change message. */
function saveRequest(editor, doc) {
  const message = byId('change-message').value.trim();
  const headers = {};
  if (editor.revision !== null) headers['if-match'] = String(editor.revision);
  let body = doc;
  // A header carries only Latin-1; other messages go in the body's message member.
  if (/^[\x20-\x7e]*$/.test(message)) headers['x-change-message'] = message;
  else body = Object.assign({}, doc, { message });
  return { headers, body };
}

function showRefusal(error) {
  if (error instanceof ApiError && REFUSED_DOCUMENT.includes(error.code)) showIssues(error.message, error.issues);
  else if (error instanceof ApiError && (error.status === 409 || error.status === 428)) showConflict(error);
  else handleError(error);
}

/**
 * Save: first the impact preview (the same body and If-Match; nothing is written), shown with
 * Confirm and Cancel; the write is sent only on Confirm.
 */
export async function saveLayer() {
  const editor = editorState.current;
  if (!editor) return;
  clearError();
  byId('editor-feedback').replaceChildren();
  const doc = editedDocument();
  if (doc === undefined) return;
  const request = saveRequest(editor, doc);
  const save = byId('save-layer');
  save.disabled = true;
  try {
    const preview = await api('POST', `/v1/preview?layer=${encodeURIComponent(editor.layer)}&kind=put`, request);
    if (!preview.changed) {
      await sendLayer(editor, request);
      return;
    }
    byId('editor-feedback').replaceChildren(
      previewPanel(
        preview,
        () => sendLayer(editor, request),
        () => {
          byId('editor-feedback').replaceChildren();
          save.disabled = !session.who?.may.write_config;
        },
      ),
    );
  } catch (error) {
    showRefusal(error);
    save.disabled = !session.who?.may.write_config;
  }
}

async function sendLayer(editor, request) {
  const save = byId('save-layer');
  const confirm = byId('confirm-save');
  if (confirm) confirm.disabled = true;
  try {
    const result = await api('PUT', `/v1/layers/${layerPath(editor.layer)}`, request);
    setEditor(editor.layer, result.revision, result.document);
    byId('change-message').value = '';
    if (result.changed) {
      feedback('saved', `Saved as revision ${result.revision}`, [diffTable(result.diff)]);
    } else {
      feedback('saved', 'Nothing changed', [
        h('p', { text: `${editor.layer} already had this content (revision ${result.revision}).` }),
      ]);
    }
    loadLayerList();
  } catch (error) {
    showRefusal(error);
  } finally {
    save.disabled = !session.who?.may.write_config;
  }
}
