// The Nodes view: every node, its revisions and its programs. Live: the center sends the list
// (GET /v1/nodes/stream, live-stream.js), then the nodes that changed when a node reports, turns
// stale or a write changes what it is served; only their rows are built again. The "last seen"
// times tick here between pushes.
import { clearError, session } from './api.js';
import { ago, badge, byId, h, utc } from './dom.js';
import { fleetLimitsTable } from './fleet-limits-view.js';
import { reportStreamError } from './health-view.js';
import { liveStream, streamStatusText } from './live-stream.js';

/** The "last seen" times' tick between pushes. */
const TICK_MS = 1000;
/** The open stream and the ticker while the view shows, and when the list last came. */
const live = { stream: null, ticker: null, pushedAt: null, state: 'stopped', detail: null };
/** The list as the stream's events built it, by node, and each node's row with the summary it shows. */
const shown = { nodes: new Map(), rows: new Map() };

function showState(state, detail) {
  // A stream that (re)connected answered: an error shown before (a refused stream) is over.
  if (state === 'live' && live.state !== 'live') clearError();
  live.state = state;
  live.detail = detail;
  const status = byId('nodes-updated');
  status.dataset.stream = state;
  status.textContent = streamStatusText(state, detail, live.pushedAt);
}

function onNodes(name, data) {
  if (name === 'nodes') shown.nodes = new Map(data.nodes.map((node) => [node.node, node]));
  else if (name === 'nodes_changed') {
    for (const node of data.changed) shown.nodes.set(node.node, node);
    for (const node of data.removed) shown.nodes.delete(node);
  } else return;
  live.pushedAt = new Date();
  // In the center's order (plain string order of the names).
  renderNodes([...shown.nodes.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)));
  showState(live.state, live.detail);
}

/** The node's row: the one shown when its summary did not change since, else a new one. */
function rowOf(node) {
  const row = shown.rows.get(node.node);
  if (row?.summary === node) return row.element;
  const element = nodeRow(node);
  shown.rows.set(node.node, { summary: node, element });
  return element;
}

function tickLastSeen() {
  for (const cell of document.querySelectorAll('#nodes-list td[data-last-seen]')) {
    cell.textContent = ago(cell.dataset.lastSeen);
  }
}

/** Opens the view's stream (closing an open one) and starts the "last seen" ticker. */
export function refreshNodes() {
  stopNodes();
  if (!session.token) return;
  live.stream = liveStream('/v1/nodes/stream', { onEvent: onNodes, onState: showState, onError: reportStreamError });
  live.ticker = setInterval(tickLastSeen, TICK_MS);
}

/** Closes the stream and stops the ticker: nothing of the view runs while it is hidden. */
export function stopNodes() {
  live.stream?.close();
  clearInterval(live.ticker);
  live.stream = null;
  live.ticker = null;
  shown.nodes = new Map();
  shown.rows = new Map();
}

function lastExit(exit) {
  if (!exit) return '—';
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
  return how + (exit.at ? ` at ${utc(exit.at)}` : '');
}

/** Each worker process the agent probes: how many tasks it runs and holds, or that it stopped answering. */
function workersCell(workers) {
  const names = Object.keys(workers || {}).sort();
  if (names.length === 0) return ['—'];
  return names.map((name) => {
    const w = workers[name];
    const counts = w.responding ? `${w.active ?? '?'} active, ${w.reserved ?? '?'} reserved` : 'not responding';
    return h('div', { className: 'nowrap', 'data-worker': name, text: `${name}: ${counts}` });
  });
}

function programsTable(programs) {
  const names = Object.keys(programs || {}).sort();
  if (names.length === 0) return h('span', { className: 'muted', text: 'none reported' });
  const head = ['Program', 'Kind', 'State', 'PIDs', 'Restarts', 'Last exit', 'Config hash', 'Workers'];
  return h('table', { className: 'programs' }, [
    h('thead', {}, [
      h(
        'tr',
        {},
        head.map((label) => h('th', { scope: 'col', text: label })),
      ),
    ]),
    h(
      'tbody',
      {},
      names.map((name) => {
        const p = programs[name] || {};
        return h('tr', { 'data-program': name }, [
          h('td', { text: name }),
          h('td', { className: 'nowrap', text: p.kind || '—' }),
          h('td', {}, [badge(p.state)]),
          h('td', { className: 'num', text: (p.pids || []).join(', ') || '—' }),
          h('td', { className: 'num', text: p.restarts === undefined ? '—' : p.restarts }),
          h('td', { className: 'nowrap', text: lastExit(p.last_exit) }),
          h('td', {
            className: 'mono',
            title: p.config_hash || '',
            text: p.config_hash ? String(p.config_hash).slice(0, 12) : '—',
          }),
          h('td', {}, workersCell(p.workers)),
        ]);
      }),
    ),
  ]);
}

function countStates(nodes) {
  const counts = {};
  for (const node of nodes) counts[node.state] = (counts[node.state] || 0) + 1;
  return Object.keys(counts)
    .sort()
    .map((state) => `${counts[state]} ${state.replace('_', ' ')}`)
    .join(', ');
}

function nodeRow(node) {
  return h('tr', { 'data-node': node.node }, [
    h('th', { scope: 'row' }, [
      node.node,
      node.groups?.length ? h('div', { className: 'muted', text: `groups: ${node.groups.join(', ')}` }) : null,
      Object.keys(node.labels || {}).length
        ? h('div', {
            className: 'muted labels',
            text: `labels: ${Object.entries(node.labels)
              .map(([key, value]) => `${key}=${value}`)
              .join(', ')}`,
          })
        : null,
      node.agent
        ? h('div', { className: 'muted', text: `agent ${node.agent.version || '?'}, pid ${node.agent.pid || '?'}` })
        : null,
    ]),
    h('td', {}, [badge(node.state)]),
    h('td', { className: 'num', text: `r${node.desired_revision}` }),
    h('td', { className: 'num' }, [
      node.applied_revision === null ? '—' : `r${node.applied_revision}`,
      node.attempted_revision !== null && node.attempted_revision !== node.applied_revision
        ? h('div', { className: 'muted', text: `attempted r${node.attempted_revision}` })
        : null,
    ]),
    h('td', {}, [badge(node.apply_result), node.message ? h('div', { text: node.message }) : null]),
    h('td', {
      className: 'nowrap',
      title: node.last_seen || '',
      'data-last-seen': node.last_seen,
      text: node.last_seen ? ago(node.last_seen) : 'never',
    }),
    h('td', { text: node.drift ? 'yes' : 'no' }),
    h('td', { text: node.stale ? 'yes' : 'no' }),
    h('td', {}, [programsTable(node.programs), fleetLimitsTable(node.fleet_limits)]),
  ]);
}

function renderNodes(nodes) {
  const list = byId('nodes-list');
  for (const name of shown.rows.keys()) if (!shown.nodes.has(name)) shown.rows.delete(name);
  if (nodes.length === 0) {
    list.replaceChildren(
      h('p', { className: 'muted', text: 'No node yet: a node appears when it has a layer or its agent reports.' }),
    );
    return;
  }
  const head = ['Node', 'State', 'Desired', 'Applied', 'Apply result', 'Last seen', 'Drift', 'Stale', 'Programs'];
  list.replaceChildren(
    h('table', { id: 'nodes-table' }, [
      h('caption', { className: 'muted', text: `${nodes.length} node(s): ${countStates(nodes)}` }),
      h('thead', {}, [
        h(
          'tr',
          {},
          head.map((label) => h('th', { scope: 'col', text: label })),
        ),
      ]),
      h('tbody', {}, nodes.map(rowOf)),
    ]),
  );
}
