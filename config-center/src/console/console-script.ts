/**
 * The console's browser script, inlined into the page: plain JavaScript, no framework, no build
 * step. Every value from the server reaches the page through `textContent`, never as HTML.
 */
export const CONSOLE_SCRIPT = String.raw`
'use strict';
(() => {
  const TOKEN_KEY = 'celeriac.console.token';
  const REFRESH_MS = 2000;
  const VIEWS = ['nodes', 'layers', 'history'];
  const session = { token: null, who: null };
  const ui = { view: 'nodes', nodesTimer: null, nodesRun: 0, editor: null, historyLayer: '' };

  const byId = (id) => document.getElementById(id);

  /** Builds an element: props are attributes, plus text, className and on<event> handlers. */
  function h(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'className') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children || []) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || 'the center answered HTTP ' + status);
      this.status = status;
      this.code = error.code || 'HTTP_' + status;
      this.issues = Array.isArray(error.issues) ? error.issues : [];
      this.currentRevision = typeof error.current_revision === 'number' ? error.current_revision : null;
    }
  }

  /** Calls the center's API with the session's bearer token; throws ApiError on any failure. */
  async function api(method, path, options) {
    const opts = options || {};
    const headers = Object.assign({ accept: 'application/json', authorization: 'Bearer ' + session.token }, opts.headers);
    const init = { method, headers, cache: 'no-store' };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, { code: 'UNREACHABLE', message: 'the center did not answer (' + error.message + '); check that it is running and reload the page' });
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, body && body.error ? body.error : { message: text.slice(0, 300) || response.statusText });
    }
    return body;
  }

  function describe(error) {
    return error instanceof ApiError ? error.code + ': ' + error.message : String((error && error.message) || error);
  }

  function showError(error) {
    byId('error').textContent = describe(error);
  }

  function clearError() {
    byId('error').textContent = '';
  }

  /** Shows an error; a refused token ends the session. */
  function handleError(error) {
    if (error instanceof ApiError && error.status === 401 && session.token) {
      signOut('Signed out: ' + describe(error));
      return;
    }
    showError(error);
  }

  const layerPath = (name) => name.split('/').map(encodeURIComponent).join('/');
  const utc = (iso) => (iso ? String(iso).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : '—');
  const json = (value) => JSON.stringify(value);

  function ago(iso) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 90) return seconds + ' s ago';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min ago';
    if (seconds < 172800) return Math.round(seconds / 3600) + ' h ago';
    return Math.round(seconds / 86400) + ' days ago';
  }

  const TONE = {
    in_sync: 'good', running: 'good', ok: 'good',
    pending: 'warn', starting: 'warn', stopping: 'warn', drift: 'warn', backoff: 'warn',
    failed: 'bad', invalid: 'bad', fatal: 'bad',
  };
  const badge = (value) => h('span', { className: 'badge ' + (TONE[value] || ''), text: value === null || value === undefined ? '—' : String(value).replace('_', ' ') });

  // ---- session ----

  async function signIn(token) {
    session.token = token;
    const who = await api('GET', '/v1/whoami');
    if (!who.may.read_config && !who.may.read_nodes) {
      session.token = null;
      throw new Error('a token with the ' + who.role + ' role cannot use the console; sign in with an admin, operator or viewer token');
    }
    session.who = who;
    sessionStorage.setItem(TOKEN_KEY, token);
    byId('who-name').textContent = who.name;
    byId('who-role').textContent = who.role;
    byId('who-masked').textContent = who.secrets_masked ? ' · secrets masked' : '';
    byId('sign-in-view').hidden = true;
    byId('app').hidden = false;
    byId('session').hidden = false;
    const wanted = location.hash.slice(1);
    showView(VIEWS.includes(wanted) ? wanted : 'nodes');
  }

  function signOut(reason) {
    stopNodes();
    session.token = null;
    session.who = null;
    ui.editor = null;
    sessionStorage.removeItem(TOKEN_KEY);
    for (const id of ['nodes-list', 'layer-list', 'history-list', 'editor-feedback', 'history-status', 'nodes-updated']) byId(id).replaceChildren();
    byId('layer-doc').value = '';
    byId('editor').hidden = true;
    clearError();
    byId('app').hidden = true;
    byId('session').hidden = true;
    byId('sign-in-view').hidden = false;
    byId('sign-in-error').textContent = reason || '';
    byId('token-input').value = '';
    byId('token-input').focus();
  }

  function showView(name) {
    ui.view = name;
    for (const view of VIEWS) {
      byId(view + '-view').hidden = view !== name;
      byId('tab-' + view).setAttribute('aria-current', view === name ? 'page' : 'false');
    }
    clearError();
    stopNodes();
    if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
    if (name === 'nodes') refreshNodes();
    else if (name === 'layers') loadLayerList();
    else loadHistory();
  }

  // ---- nodes ----

  function stopNodes() {
    ui.nodesRun += 1;
    clearTimeout(ui.nodesTimer);
    ui.nodesTimer = null;
  }

  async function refreshNodes() {
    const run = ui.nodesRun;
    try {
      const data = await api('GET', '/v1/nodes');
      if (run !== ui.nodesRun) return;
      renderNodes(data.nodes);
      byId('nodes-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + ', every 2 s.';
      clearError();
    } catch (error) {
      if (run !== ui.nodesRun) return;
      handleError(error);
    }
    if (run === ui.nodesRun && session.token) ui.nodesTimer = setTimeout(refreshNodes, REFRESH_MS);
  }

  function lastExit(exit) {
    if (!exit) return '—';
    const how = exit.signal ? 'signal ' + exit.signal : 'code ' + exit.code;
    return how + (exit.at ? ' at ' + utc(exit.at) : '');
  }

  function programsTable(programs) {
    const names = Object.keys(programs || {}).sort();
    if (names.length === 0) return h('span', { className: 'muted', text: 'none reported' });
    const head = ['Program', 'Kind', 'State', 'PIDs', 'Restarts', 'Last exit', 'Config hash'];
    return h('table', { className: 'programs' }, [
      h('thead', {}, [h('tr', {}, head.map((label) => h('th', { scope: 'col', text: label })))]),
      h('tbody', {}, names.map((name) => {
        const p = programs[name] || {};
        return h('tr', { 'data-program': name }, [
          h('td', { text: name }),
          h('td', { className: 'nowrap', text: p.kind || '—' }),
          h('td', {}, [badge(p.state)]),
          h('td', { className: 'num', text: (p.pids || []).join(', ') || '—' }),
          h('td', { className: 'num', text: p.restarts === undefined ? '—' : p.restarts }),
          h('td', { className: 'nowrap', text: lastExit(p.last_exit) }),
          h('td', { className: 'mono', title: p.config_hash || '', text: p.config_hash ? String(p.config_hash).slice(0, 12) : '—' }),
        ]);
      })),
    ]);
  }

  function countStates(nodes) {
    const counts = {};
    for (const node of nodes) counts[node.state] = (counts[node.state] || 0) + 1;
    return Object.keys(counts).sort().map((state) => counts[state] + ' ' + state.replace('_', ' ')).join(', ');
  }

  function renderNodes(nodes) {
    const list = byId('nodes-list');
    if (!nodes || nodes.length === 0) {
      list.replaceChildren(h('p', { className: 'muted', text: 'No node yet: a node appears when it has a layer or its agent reports.' }));
      return;
    }
    const head = ['Node', 'State', 'Desired', 'Applied', 'Apply result', 'Last seen', 'Drift', 'Stale', 'Programs'];
    list.replaceChildren(h('table', { id: 'nodes-table' }, [
      h('caption', { className: 'muted', text: nodes.length + ' node(s): ' + countStates(nodes) }),
      h('thead', {}, [h('tr', {}, head.map((label) => h('th', { scope: 'col', text: label })))]),
      h('tbody', {}, nodes.map((node) => h('tr', { 'data-node': node.node }, [
        h('th', { scope: 'row' }, [
          node.node,
          node.groups && node.groups.length ? h('div', { className: 'muted', text: 'groups: ' + node.groups.join(', ') }) : null,
          node.agent ? h('div', { className: 'muted', text: 'agent ' + (node.agent.version || '?') + ', pid ' + (node.agent.pid || '?') }) : null,
        ]),
        h('td', {}, [badge(node.state)]),
        h('td', { className: 'num', text: 'r' + node.desired_revision }),
        h('td', { className: 'num' }, [
          node.applied_revision === null ? '—' : 'r' + node.applied_revision,
          node.attempted_revision !== null && node.attempted_revision !== node.applied_revision
            ? h('div', { className: 'muted', text: 'attempted r' + node.attempted_revision }) : null,
        ]),
        h('td', {}, [badge(node.apply_result), node.message ? h('div', { text: node.message }) : null]),
        h('td', { className: 'nowrap', title: node.last_seen || '', text: node.last_seen ? ago(node.last_seen) : 'never' }),
        h('td', { text: node.drift ? 'yes' : 'no' }),
        h('td', { text: node.stale ? 'yes' : 'no' }),
        h('td', {}, [programsTable(node.programs)]),
      ]))),
    ]));
  }

  // ---- layers ----

  async function loadLayerList() {
    try {
      const data = await api('GET', '/v1/layers');
      const current = ui.editor && ui.editor.layer;
      byId('layer-list').replaceChildren(...data.layers.map((entry) => h('li', {}, [
        h('button', {
          type: 'button', 'aria-current': entry.layer === current ? 'true' : 'false',
          onclick: () => openLayer(entry.layer),
        }, [entry.layer + ' ', h('span', { className: 'muted', text: 'r' + entry.revision })]),
      ])));
      if (data.layers.length === 0) byId('layer-list').append(h('li', { className: 'muted', text: 'No layer yet.' }));
      return data.layers;
    } catch (error) {
      handleError(error);
      return [];
    }
  }

  async function openLayer(name) {
    clearError();
    byId('editor-feedback').replaceChildren();
    try {
      const data = await api('GET', '/v1/layers/' + layerPath(name));
      setEditor(name, data.revision, data.document);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) setEditor(name, null, {});
      else handleError(error);
    }
    loadLayerList();
  }

  function setEditor(layer, revision, doc) {
    const writable = session.who.may.write_config;
    ui.editor = { layer, revision };
    byId('editor').hidden = false;
    byId('editor-title').textContent = layer;
    byId('editor-revision').textContent = revision === null
      ? 'New layer: saving creates it.'
      : 'Revision ' + revision + '; saving sends If-Match: ' + revision + ', so a change made meanwhile is refused, not overwritten.';
    const area = byId('layer-doc');
    area.value = JSON.stringify(doc, null, 2);
    area.readOnly = !writable;
    byId('save-layer').disabled = !writable;
    byId('change-message').disabled = !writable;
    byId('read-only-note').hidden = writable;
  }

  function feedback(className, title, children) {
    const box = h('div', { className }, [h('h3', { text: title }), ...children]);
    byId('editor-feedback').replaceChildren(box);
    return box;
  }

  function diffTable(diff) {
    if (!diff || diff.length === 0) return h('p', { className: 'muted', text: 'no change' });
    return h('table', { className: 'diff' }, [
      h('thead', {}, [h('tr', {}, ['Path', 'Before', 'After'].map((label) => h('th', { scope: 'col', text: label })))]),
      h('tbody', {}, diff.map((entry) => h('tr', {}, [
        h('td', { text: entry.path }),
        h('td', { className: 'before', text: 'before' in entry ? json(entry.before) : '—' }),
        h('td', { className: 'after', text: 'after' in entry ? json(entry.after) : '—' }),
      ]))),
    ]);
  }

  function showIssues(message, issues) {
    feedback('issues', 'Not saved', [
      h('p', { text: message }),
      h('ul', { id: 'issue-list' }, issues.map((issue) => h('li', {}, [
        h('code', { className: 'issue-path', text: issue.path || '(document)' }),
        ': ' + issue.message,
        issue.node ? h('span', { className: 'muted', text: ' (in the effective config of node ' + issue.node + ')' }) : null,
      ]))),
    ]);
  }

  function showConflict(error) {
    const layer = ui.editor.layer;
    const current = error.currentRevision;
    feedback('conflict', 'Conflict: not saved', [
      h('p', { text: layer + ' changed since you opened ' + (ui.editor.revision === null ? 'it' : 'revision ' + ui.editor.revision) + (current === null ? '' : '; it is now at revision ' + current) + '.' }),
      h('p', { className: 'muted', text: error.message }),
      h('p', { text: 'Your text stays in the editor until you reload; copy what you need first.' }),
      h('button', { type: 'button', id: 'reload-conflict', onclick: () => openLayer(layer) }, [
        current === null ? 'Reload the current revision' : 'Reload revision ' + current,
      ]),
    ]);
  }

  async function saveLayer() {
    const editor = ui.editor;
    if (!editor) return;
    clearError();
    byId('editor-feedback').replaceChildren();
    let doc;
    try {
      doc = JSON.parse(byId('layer-doc').value);
    } catch (error) {
      showIssues('The document is not valid JSON; nothing was sent.', [{ path: '(document)', message: error.message }]);
      return;
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      showIssues('A layer is a JSON object; nothing was sent.', [{ path: '(document)', message: 'expected an object like {"celery": {...}}' }]);
      return;
    }
    const message = byId('change-message').value.trim();
    const headers = {};
    if (editor.revision !== null) headers['if-match'] = String(editor.revision);
    let body = doc;
    // A header carries only Latin-1; other messages go in the body's message member.
    if (/^[\x20-\x7e]*$/.test(message)) headers['x-change-message'] = message;
    else body = Object.assign({}, doc, { message });
    const save = byId('save-layer');
    save.disabled = true;
    try {
      const result = await api('PUT', '/v1/layers/' + layerPath(editor.layer), { headers, body });
      setEditor(editor.layer, result.revision, result.document);
      byId('change-message').value = '';
      if (result.changed) {
        feedback('saved', 'Saved as revision ' + result.revision, [diffTable(result.diff)]);
      } else {
        feedback('saved', 'Nothing changed', [h('p', { text: editor.layer + ' already had this content (revision ' + result.revision + ').' })]);
      }
      loadLayerList();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'VALIDATION_FAILED') showIssues(error.message, error.issues);
      else if (error instanceof ApiError && (error.status === 409 || error.status === 428)) showConflict(error);
      else handleError(error);
    } finally {
      save.disabled = !session.who || !session.who.may.write_config;
    }
  }

  // ---- history ----

  async function loadHistory() {
    const layers = await loadLayerNames();
    const select = byId('history-filter');
    select.replaceChildren(h('option', { value: '', text: 'all layers' }), ...layers.map((entry) => h('option', { value: entry.layer, text: entry.layer })));
    select.value = layers.some((entry) => entry.layer === ui.historyLayer) ? ui.historyLayer : '';
    try {
      const query = select.value ? '?limit=100&layer=' + encodeURIComponent(select.value) : '?limit=100';
      const data = await api('GET', '/v1/revisions' + query);
      renderHistory(data.revisions);
    } catch (error) {
      handleError(error);
    }
  }

  async function loadLayerNames() {
    try {
      return (await api('GET', '/v1/layers')).layers;
    } catch (error) {
      handleError(error);
      return [];
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
    list.replaceChildren(...revisions.map((rev) => {
      const author = rev.author || {};
      const current = !seen.has(rev.layer);
      seen.add(rev.layer);
      const item = h('li', { className: 'revision panel', 'data-revision': rev.revision }, [
        h('div', { className: 'revision-head' }, [
          h('strong', { text: 'r' + rev.revision }),
          h('span', { className: 'mono', text: rev.layer }),
          h('span', { className: 'badge', text: rev.kind === 'rollback' ? 'rollback to r' + rev.restored_from : rev.kind }),
          h('span', { className: 'muted', text: 'by ' + (author.name || '?') + ' (' + (author.role || '?') + ') · ' + utc(rev.time) }),
          current ? h('span', { className: 'badge current', text: 'current' }) : null,
        ]),
        h('p', { className: 'message', text: rev.message || '(no message)' }),
        diffTable(rev.diff),
      ]);
      if (writable && !current) item.append(rollbackControls(rev));
      return item;
    }));
  }

  function rollbackControls(rev) {
    const wrap = h('div', {});
    const inputId = 'rollback-message-' + rev.revision;
    const input = h('input', { id: inputId, type: 'text', required: true, placeholder: 'why (recorded in history)' });
    const form = h('form', { className: 'rollback-form', hidden: true }, [
      h('div', {}, [h('label', { for: inputId, text: 'Why roll back ' + rev.layer + ' to revision ' + rev.revision + '?' }), h('br'), input]),
      h('button', { type: 'submit', text: 'Confirm rollback' }),
      h('button', { type: 'button', className: 'secondary', text: 'Cancel', onclick: () => { form.hidden = true; open.hidden = false; } }),
    ]);
    const open = h('button', {
      type: 'button', className: 'secondary', 'aria-label': 'Roll back ' + rev.layer + ' to revision ' + rev.revision,
      text: 'Roll back to r' + rev.revision,
      onclick: () => { form.hidden = false; open.hidden = true; input.focus(); },
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
          ? result.layer + ' restored to its content of revision ' + result.restored_from + ' as revision ' + result.revision + '.'
          : result.layer + ' already has the content of revision ' + result.restored_from + '; nothing changed.';
        await loadHistory();
      } catch (error) {
        handleError(error);
      }
    });
    wrap.append(open, form);
    return wrap;
  }

  // ---- wiring ----

  byId('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = byId('token-input').value.trim();
    byId('sign-in-error').textContent = '';
    if (!/^[\x21-\x7e]+$/.test(token)) {
      byId('sign-in-error').textContent = 'Enter a token: printable characters without spaces.';
      return;
    }
    try {
      await signIn(token);
    } catch (error) {
      session.token = null;
      byId('sign-in-error').textContent = 'Not signed in: ' + describe(error);
    }
  });
  byId('sign-out').addEventListener('click', () => signOut(''));
  for (const view of VIEWS) byId('tab-' + view).addEventListener('click', () => showView(view));
  byId('open-layer-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId('layer-name').value.trim();
    if (name) openLayer(name);
  });
  byId('save-layer').addEventListener('click', saveLayer);
  byId('reload-layer').addEventListener('click', () => ui.editor && openLayer(ui.editor.layer));
  byId('history-filter').addEventListener('change', (event) => {
    ui.historyLayer = event.target.value;
    byId('history-status').textContent = '';
    loadHistory();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && ui.view === 'nodes' && session.token) {
      stopNodes();
      refreshNodes();
    }
  });

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved).catch((error) => signOut('Signed out: ' + describe(error)));
  } else {
    byId('token-input').focus();
  }
})();
`;
