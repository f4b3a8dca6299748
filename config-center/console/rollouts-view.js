// The Rollouts view: the current and past rollouts (GET /v1/rollouts) with their waves, each wave's
// nodes and state, the soak countdown, the gates against their bounds, the operator's commands,
// and the fleet's health charts; refreshed every 2 s.
import { api, clearError, handleError, session } from './api.js';
import { ago, badge, byId, h, replaceIfChanged, utc } from './dom.js';
import { chartsNote, chartsSignature, fleetCharts } from './health-view.js';
import { poller } from './poller.js';

const REFRESH_MS = 2000;
/** The center's clock minus this browser's, from the last answer: the countdown follows the center's. */
const clock = { offsetMs: 0 };
/** The rollout whose abort waits for its confirmation. */
const confirming = { abort: null };
/** Which <details> the user opened (past rollouts, event lists): a refresh keeps them open. */
const opened = new Set();

function keptOpen(key, props, children) {
  return h(
    'details',
    {
      ...props,
      open: opened.has(key),
      ontoggle: (event) => (event.target.open ? opened.add(key) : opened.delete(key)),
    },
    children,
  );
}

/**
 * A wave's state: promoted (done), soaking (the current wave, its gates held for the soak), paused,
 * pending (not reached yet), rolled back, or skipped (never reached by a rolled-back rollout). Pure.
 */
export function waveState(record, index) {
  if (record.state === 'succeeded') return 'promoted';
  if (record.state === 'rolled_back' || record.state === 'rolling_back')
    return index <= record.wave ? 'rolled_back' : 'skipped';
  if (index < record.wave) return 'promoted';
  if (index > record.wave) return 'pending';
  return record.state === 'paused' ? 'paused' : 'soaking';
}

const secondsText = (ms) => `${Math.max(0, Math.ceil(ms / 1000))} s`;

/** How far the current wave is in its soak: the time left while its gates pass, else why it waits. */
function soakText(record, wave) {
  if (record.passing_since) {
    const left = wave.soak_ms - (Date.now() + clock.offsetMs - Date.parse(record.passing_since));
    return `gates passing: soak ${secondsText(wave.soak_ms)}, ${secondsText(left)} left`;
  }
  return `soak ${secondsText(wave.soak_ms)} starts when every gate passes (${record.last_reason || 'waiting'})`;
}

function waveItem(record, wave, index) {
  const state = waveState(record, index);
  const served = new Set(record.served);
  return h('li', { className: `wave ${state}`, 'data-wave': index + 1, 'data-state': state }, [
    h('div', { className: 'wave-head' }, [
      h('strong', { text: `Wave ${index + 1}` }),
      badge(state),
      h('span', { className: 'muted', text: `${wave.nodes.length} node(s), soak ${secondsText(wave.soak_ms)}` }),
    ]),
    h(
      'ul',
      { className: 'wave-nodes', 'aria-label': `nodes of wave ${index + 1}` },
      wave.nodes.map((node) =>
        h('li', {
          className: served.has(node) ? 'node-chip served' : 'node-chip',
          'data-node': node,
          title: served.has(node) ? `${node} is served r${record.revision}` : `${node} keeps its previous config`,
          text: served.has(node) ? `${node} ✓` : node,
        }),
      ),
    ),
    state === 'soaking' || state === 'paused'
      ? h('p', { className: 'soak', 'aria-live': 'off', text: soakText(record, wave) })
      : null,
  ]);
}

const figure = (value) => (value === null || value === undefined ? '—' : String(Number(value.toPrecision(4))));

function gatesTable(gates) {
  if (!gates || gates.length === 0) return h('p', { className: 'muted', text: 'No gate evaluated yet.' });
  return h('table', { className: 'gates' }, [
    h('caption', { className: 'muted', text: 'Gates of the current wave, last evaluation' }),
    h('thead', {}, [
      h(
        'tr',
        {},
        ['Gate', 'Verdict', 'Measured', 'Bound', 'Detail'].map((label) => h('th', { scope: 'col', text: label })),
      ),
    ]),
    h(
      'tbody',
      {},
      gates.map((gate) =>
        h('tr', { 'data-gate': gate.gate }, [
          h('td', { className: 'mono', text: gate.gate }),
          h('td', {}, [badge(gate.verdict)]),
          h('td', { className: 'num', text: figure(gate.measured) }),
          h('td', { className: 'num', text: figure(gate.bound) }),
          h('td', { text: gate.detail }),
        ]),
      ),
    ),
  ]);
}

async function command(record, name) {
  try {
    await api('POST', `/v1/rollouts/${encodeURIComponent(record.id)}/${name}`);
    byId('rollouts-status').textContent = `${name} sent to rollout ${record.id}.`;
  } catch (error) {
    handleError(error);
  }
  loop.start();
}

/** Pause or resume, promote now and abort (confirmed) for a token that may write; nothing for a viewer. */
function commands(record) {
  if (!session.who?.may.write_config || (record.state !== 'running' && record.state !== 'paused')) return null;
  const button = (label, name, secondary) =>
    h('button', {
      type: 'button',
      className: secondary ? 'secondary' : '',
      'data-command': name,
      text: label,
      onclick: () => command(record, name),
    });
  const abort =
    confirming.abort === record.id
      ? h('button', {
          type: 'button',
          className: 'danger',
          text: 'Confirm abort',
          onclick: () => {
            confirming.abort = null;
            command(record, 'abort');
          },
        })
      : h('button', {
          type: 'button',
          className: 'secondary',
          text: 'Abort',
          onclick: () => {
            confirming.abort = record.id;
            loop.start();
          },
        });
  return h('div', { className: 'row rollout-commands' }, [
    record.state === 'running' ? button('Pause', 'pause', true) : button('Resume', 'resume', true),
    button('Promote now', 'promote', true),
    abort,
  ]);
}

function eventsList(record) {
  return keptOpen(`events:${record.id}`, { className: 'events' }, [
    h('summary', { text: `${record.events.length} event(s)` }),
    h(
      'ol',
      {},
      record.events.map((event) =>
        h('li', {}, [
          h('span', { className: 'muted', text: `${utc(event.at)} · wave ${event.wave + 1} · ` }),
          h('strong', { text: event.event.replace('_', ' ') }),
          h('span', { text: `: ${event.detail}` }),
        ]),
      ),
    ),
  ]);
}

function rolloutPanel(record) {
  const active = record.state === 'running' || record.state === 'paused';
  return h('article', { className: 'rollout panel', 'data-rollout': record.id, 'data-state': record.state }, [
    h('div', { className: 'rollout-head' }, [
      h('h3', { text: `Rollout ${record.id}: revision ${record.revision} of ${record.layer}` }),
      badge(record.state),
      h('span', { className: 'muted', title: record.started_at, text: `started ${ago(record.started_at)}` }),
      record.rollback_revision ? h('span', { text: `rolled back by r${record.rollback_revision}` }) : null,
    ]),
    commands(record),
    active && record.promote_requested ? h('p', { className: 'notice', text: 'Promotion requested.' }) : null,
    h('p', { className: 'muted reason', text: record.last_reason }),
    h(
      'ol',
      { className: 'waves' },
      record.waves.map((wave, index) => waveItem(record, wave, index)),
    ),
    gatesTable(record.last_gates),
    eventsList(record),
  ]);
}

function render(rollouts) {
  const current = rollouts.filter((r) => r.state === 'running' || r.state === 'paused' || r.state === 'rolling_back');
  const past = rollouts.filter((r) => !current.includes(r));
  // The running rollout's countdown and gates change at every refresh; the past ones rarely do.
  byId('rollouts-current').replaceChildren(
    ...(current.length
      ? current.map(rolloutPanel)
      : [
          h('p', {
            className: 'muted',
            text: 'No rollout running. A write with a "rollout" policy starts one (docs/rollouts.md).',
          }),
        ]),
  );
  replaceIfChanged(byId('rollouts-past'), JSON.stringify([past, session.who?.role]), () =>
    past.length
      ? past.map((record) =>
          keptOpen(`past:${record.id}`, { className: 'past-rollout', 'data-rollout': record.id }, [
            h('summary', {}, [
              `${record.id}: revision ${record.revision} of ${record.layer} `,
              badge(record.state),
              h('span', { className: 'muted', text: ` ${utc(record.updated_at)}` }),
            ]),
            rolloutPanel(record),
          ]),
        )
      : [h('p', { className: 'muted', text: 'None yet.' })],
  );
  byId('rollouts-read-only').hidden = Boolean(session.who?.may.write_config);
}

async function refresh(isCurrent) {
  try {
    const [list, health] = await Promise.all([
      api('GET', '/v1/rollouts'),
      api('GET', '/v1/health/history?window=3600'),
    ]);
    if (!isCurrent()) return;
    clock.offsetMs = health.now - Date.now();
    render(list.rollouts);
    replaceIfChanged(byId('rollout-charts'), chartsSignature(health), () => [fleetCharts(health), chartsNote(health)]);
    byId('rollouts-updated').textContent = `Updated ${new Date().toLocaleTimeString()}, every 2 s.`;
    clearError();
  } catch (error) {
    if (isCurrent()) handleError(error);
  }
}

const loop = poller(refresh, REFRESH_MS, () => Boolean(session.token) && !byId('rollouts-view').hidden);

/** Starts the view's refresh loop. */
export const refreshRollouts = () => loop.start();
/** Stops it; a refresh in flight is dropped when it lands. */
export const stopRollouts = () => loop.stop();
