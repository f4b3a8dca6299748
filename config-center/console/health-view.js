// The Health view: tasks/s, failure rate and runtime p95 over the last hour for the fleet and one
// node (GET /v1/health/stream: the history of GET /v1/health/history, pushed again whenever points
// arrive), with a marker at each revision.
import { ApiError, clearError, handleError, session } from './api.js';
import { byId, h, replaceIfChanged } from './dom.js';
import { liveStream, streamStatusText } from './live-stream.js';
import { lineChart } from './svg-chart.js';

const WINDOW_S = 3600;
const selection = { node: '' };
/** The open stream while the view shows, and when it last pushed. */
const live = { stream: null, pushedAt: null, state: 'stopped', detail: null };

const rate = (v) => `${Number(v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2))}/s`;
const percent = (v) => `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)} %`;
const seconds = (v) => (v === 0 ? '0 s' : v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(2)} s`);

/** The three charted quantities, as the API names them. */
const METRICS = [
  { key: 'tasks_per_s', title: 'Tasks/s', yLabel: 'tasks/s', format: rate },
  { key: 'failure_ratio', title: 'Failure rate', yLabel: 'failed', format: percent, yMax: 1 },
  { key: 'runtime_p95_s', title: 'Runtime p95', yLabel: 'seconds', format: seconds },
];

function markerTooltip(marker) {
  const head = `r${marker.revision} of ${marker.layer} by ${marker.author} at ${new Date(marker.t).toISOString().slice(11, 19)} UTC`;
  if (!marker.rollback) return `${head}: ${marker.message}`;
  const gates = marker.rollback.gates.map(
    (g) => `${g.gate} measured ${g.measured ?? '—'} against bound ${g.bound ?? '—'}`,
  );
  const why = gates.length ? `gate ${gates.join('; ')}` : marker.rollback.reason;
  return `${head}: rollback${marker.rollback.rollout ? ` by ${marker.rollback.rollout}` : ''}: ${why}`;
}

/** The markers a chart draws: all of them, or those whose revision is in `only`. */
function chartMarkers(markers, only) {
  return markers
    .filter((m) => !only || only.includes(m.revision))
    .map((m) => ({
      t: m.t,
      revision: m.revision,
      label: `r${m.revision}`,
      rollback: Boolean(m.rollback),
      tooltip: markerTooltip(m),
    }));
}

/** The time axis: the window, but from the first point or marker when the history is younger (minutes, not an hour). */
function timeAxis(data) {
  const times = [...data.fleet.map((p) => p.t), ...data.markers.map((m) => m.t)];
  if (data.node) times.push(...data.node.points.map((p) => p.t));
  const earliest = times.length ? Math.min(...times) : data.now - 60_000;
  const from = Math.max(data.now - data.window_s * 1000, Math.min(earliest, data.now - 60_000));
  return { from, to: data.now };
}

/** The three charts of one series (the fleet's or a node's), each titled with whose it is. */
function chartsOf(whose, points, markers, axis) {
  return h(
    'div',
    { className: 'charts', 'data-charts': whose },
    METRICS.map((metric) => {
      const chart = lineChart({
        title: `${metric.title}, ${whose}`,
        yLabel: metric.yLabel,
        points: points.map((p) => ({ t: p.t, v: p[metric.key] })),
        markers,
        from: axis.from,
        to: axis.to,
        format: metric.format,
        yMax: metric.yMax,
        className: `chart-${metric.key}`,
      });
      return h('figure', { className: 'chart-box' }, [chart]);
    }),
  );
}

/** The fleet's charts of a GET /v1/health/history answer, for the rollout view too. */
export function fleetCharts(data) {
  const nodes = data.nodes.length;
  return chartsOf(
    `fleet (${nodes} node${nodes === 1 ? '' : 's'})`,
    data.fleet,
    chartMarkers(data.markers),
    timeAxis(data),
  );
}

/** The legend under the charts: what the markers are and where the figures come from. */
export function chartsNote(data) {
  return h('p', {
    className: 'muted chart-note',
    text: `Points every ${data.step_s} s as the agents report them (${data.scope === 'shared' ? "every center replica's reports" : "this center replica's reports"}). Markers: revisions; red dashed: a rollback (hover for the gate).`,
  });
}

/** What the charts of an answer show, less the clock: the same points and markers draw the same charts. */
export function chartsSignature(data) {
  const last = (points) => (points.length ? [points.length, points[0].t, JSON.stringify(points.at(-1))] : []);
  return JSON.stringify([last(data.fleet), data.node ? [data.node.node, last(data.node.points)] : null, data.markers]);
}

/** A stream's error: a refusal goes to the page's error box (a 401 signs out); a drop only shows in the view's state. */
export function reportStreamError(error) {
  if (error instanceof ApiError && error.status > 0 && error.status < 500) handleError(error);
}

function showState(state, detail) {
  // A stream that (re)connected answered: an error shown before (a refused stream, a node not found) is over.
  if (state === 'live' && live.state !== 'live') clearError();
  live.state = state;
  live.detail = detail;
  const status = byId('health-updated');
  status.dataset.stream = state;
  status.textContent = streamStatusText(state, detail, live.pushedAt);
}

function onHistory(_name, data) {
  live.pushedAt = new Date();
  render(data);
  showState(live.state, live.detail);
}

function render(data) {
  const select = byId('health-node');
  const names = [...new Set([...data.nodes, ...(selection.node ? [selection.node] : [])])].sort();
  const options = ['', ...names];
  if ([...select.options].map((o) => o.value).join('\n') !== options.join('\n')) {
    select.replaceChildren(
      h('option', { value: '', text: 'choose a node' }),
      ...names.map((name) => h('option', { value: name, text: name })),
    );
  }
  select.value = selection.node;
  const signature = chartsSignature(data);
  replaceIfChanged(byId('health-fleet'), signature, () => [fleetCharts(data), chartsNote(data)]);
  const axis = timeAxis(data);
  replaceIfChanged(byId('health-node-charts'), signature, () => [
    data.node
      ? chartsOf(`node ${data.node.node}`, data.node.points, chartMarkers(data.markers, data.node.revisions), axis)
      : h('p', { className: 'muted', text: 'Choose a node to see its own charts.' }),
  ]);
}

/** Opens the view's stream for the chosen node (closing an open one). */
export function refreshHealth() {
  stopHealth();
  if (!session.token) return;
  const query = selection.node ? `&node=${encodeURIComponent(selection.node)}` : '';
  live.stream = liveStream(`/v1/health/stream?window=${WINDOW_S}${query}`, {
    onEvent: onHistory,
    onState: showState,
    onError: reportStreamError,
  });
}

/** Closes the stream: nothing of the view runs while it is hidden. */
export function stopHealth() {
  live.stream?.close();
  live.stream = null;
}

/** Charts this node next to the fleet. */
export function selectHealthNode(node) {
  selection.node = node;
  refreshHealth();
}
