// DOM helpers: every value from the server reaches the page through textContent, never as HTML.

export const byId = (id) => document.getElementById(id);

/** Builds an element: props are attributes, plus text, className and on<event> handlers. */
export function h(tag, props, children) {
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

const shownSignatures = new WeakMap();

/**
 * Replaces the children of `element` with `build()` unless `signature` (a string of what they
 * show) is the one shown already: a refresh that changes nothing keeps open details, hover
 * tooltips and the element under the pointer.
 */
export function replaceIfChanged(element, signature, build) {
  // Emptied since (sign-out): build again.
  if (shownSignatures.get(element) === signature && element.firstChild) return;
  shownSignatures.set(element, signature);
  element.replaceChildren(...build());
}

export const layerPath = (name) => name.split('/').map(encodeURIComponent).join('/');
export const utc = (iso) => (iso ? String(iso).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : '—');
export const json = (value) => JSON.stringify(value);

export function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

const TONE = {
  in_sync: 'good',
  running: 'good',
  ok: 'good',
  pending: 'warn',
  starting: 'warn',
  stopping: 'warn',
  drift: 'warn',
  backoff: 'warn',
  failed: 'bad',
  invalid: 'bad',
  fatal: 'bad',
  pass: 'good',
  fail: 'bad',
  promoted: 'good',
  succeeded: 'good',
  soaking: 'warn',
  paused: 'warn',
  rolling_back: 'bad',
  rolled_back: 'bad',
};

export const badge = (value) =>
  h('span', {
    className: `badge ${TONE[value] || ''}`,
    text: value === null || value === undefined ? '—' : String(value).replace('_', ' '),
  });

/** A table of diff entries (path, before, after), as writes and history show them. */
export function diffTable(diff) {
  if (!diff || diff.length === 0) return h('p', { className: 'muted', text: 'no change' });
  return h('table', { className: 'diff' }, [
    h('thead', {}, [
      h(
        'tr',
        {},
        ['Path', 'Before', 'After'].map((label) => h('th', { scope: 'col', text: label })),
      ),
    ]),
    h(
      'tbody',
      {},
      diff.map((entry) =>
        h('tr', {}, [
          h('td', { text: entry.path }),
          h('td', { className: 'before', text: 'before' in entry ? json(entry.before) : '—' }),
          h('td', { className: 'after', text: 'after' in entry ? json(entry.after) : '—' }),
        ]),
      ),
    ),
  ]);
}
