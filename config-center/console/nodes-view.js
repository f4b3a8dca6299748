// The Nodes view: every node, its revisions and its programs, refreshed every 2 s.
import { api, clearError, handleError, session } from './api.js';
import { ago, badge, byId, h, utc } from './dom.js';
import { fleetLimitsTable } from './fleet-limits-view.js';
import { poller } from './poller.js';

const REFRESH_MS = 2000;

async function refresh(isCurrent) {
  try {
    const data = await api('GET', '/v1/nodes');
    if (!isCurrent()) return;
    renderNodes(data.nodes);
    byId('nodes-updated').textContent = `Updated ${new Date().toLocaleTimeString()}, every 2 s.`;
    clearError();
  } catch (error) {
    if (isCurrent()) handleError(error);
  }
}

const loop = poller(refresh, REFRESH_MS, () => Boolean(session.token));

/** Starts the view's refresh loop (again). */
export const refreshNodes = () => loop.start();
/** Stops the refresh loop; a refresh in flight is ignored when it lands. */
export const stopNodes = () => loop.stop();

function lastExit(exit) {
  if (!exit) return '—';
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
  return how + (exit.at ? ` at ${utc(exit.at)}` : '');
}

function programsTable(programs) {
  const names = Object.keys(programs || {}).sort();
  if (names.length === 0) return h('span', { className: 'muted', text: 'none reported' });
  const head = ['Program', 'Kind', 'State', 'PIDs', 'Restarts', 'Last exit', 'Config hash'];
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
      text: node.last_seen ? ago(node.last_seen) : 'never',
    }),
    h('td', { text: node.drift ? 'yes' : 'no' }),
    h('td', { text: node.stale ? 'yes' : 'no' }),
    h('td', {}, [programsTable(node.programs), fleetLimitsTable(node.fleet_limits)]),
  ]);
}

function renderNodes(nodes) {
  const list = byId('nodes-list');
  if (!nodes || nodes.length === 0) {
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
      h('tbody', {}, nodes.map(nodeRow)),
    ]),
  );
}
