// The Rollouts view: the current and past rollouts (GET /v1/rollouts) with their waves, each wave's
// nodes and state, the soak countdown, the gates against their bounds, the operator's commands,
// and the fleet's health charts. Live: the center pushes every change (GET /v1/rollouts/stream and
// /v1/health/stream, live-stream.js); the soak countdown ticks here between pushes.
import { api, clearError, handleError, session } from './api.js';
import { ago, badge, byId, h, replaceIfChanged, utc } from './dom.js';
import { chartsNote, chartsSignature, fleetCharts, reportStreamError } from './health-view.js';
import { liveStream, streamStatusText } from './live-stream.js';

const WINDOW_S = 3600;
/** The countdown's tick between pushes. */
const TICK_MS = 1000;
/** The open streams, the last state pushed, and the countdown's timer, while the view shows. */
const live = { rollouts: null, health: null, ticker: null, list: null, pushedAt: null, state: 'stopped', detail: null };
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
      ? h('p', {
          className: 'soak',
          'aria-live': 'off',
          'data-soak-of': record.id,
          'data-soak-wave': index,
          text: soakText(record, wave),
        })
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
  // The change itself arrives on the stream.
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
            if (live.list) render(live.list);
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

/** Moves each soak countdown on by the clock, between pushes. */
function tickCountdowns() {
  for (const element of document.querySelectorAll('#rollouts-view p.soak[data-soak-of]')) {
    const record = live.list?.find((r) => r.id === element.dataset.soakOf);
    const wave = record?.waves[Number(element.dataset.soakWave)];
    if (wave) element.textContent = soakText(record, wave);
  }
}

function showState(state, detail) {
  // A stream that (re)connected answered: an error shown before (a refused stream, a node not found) is over.
  if (state === 'live' && live.state !== 'live') clearError();
  live.state = state;
  live.detail = detail;
  const status = byId('rollouts-updated');
  status.dataset.stream = state;
  status.textContent = streamStatusText(state, detail, live.pushedAt);
}

function onRollouts(_name, data) {
  clock.offsetMs = data.now - Date.now();
  live.list = data.rollouts;
  live.pushedAt = new Date();
  render(data.rollouts);
  showState(live.state, live.detail);
}

function onHealth(_name, data) {
  replaceIfChanged(byId('rollout-charts'), chartsSignature(data), () => [fleetCharts(data), chartsNote(data)]);
}

/** Opens the view's streams (closing any open ones) and starts the countdown. */
export function refreshRollouts() {
  stopRollouts();
  if (!session.token) return;
  live.rollouts = liveStream('/v1/rollouts/stream', {
    onEvent: onRollouts,
    onState: showState,
    onError: reportStreamError,
  });
  live.health = liveStream(`/v1/health/stream?window=${WINDOW_S}`, {
    onEvent: onHealth,
    onState: (state) => {
      byId('rollouts-updated').dataset.healthStream = state;
    },
    onError: reportStreamError,
  });
  live.ticker = setInterval(tickCountdowns, TICK_MS);
}

/** Closes the streams and stops the countdown: nothing of the view runs while it is hidden. */
export function stopRollouts() {
  live.rollouts?.close();
  live.health?.close();
  clearInterval(live.ticker);
  live.rollouts = null;
  live.health = null;
  live.ticker = null;
}
