// The fleet-wide limits a node's agent reports (docs/fleet-limits.md), shown under its programs.
import { h } from './dom.js';

function show(value, digits = 0) {
  if (value === null || value === undefined) return '—';
  return typeof value === 'number' ? value.toFixed(digits) : String(value);
}

/** A table of the node's fleet limits: limit, in force, current rate, tokens, slots, waiting; null when none. */
export function fleetLimitsTable(limits) {
  if (!Array.isArray(limits) || limits.length === 0) return null;
  const head = ['Fleet limit', 'Rate/s', 'Concurrency', 'Per', 'Now/s', 'Tokens', 'Slots held', 'Waiting', 'Running'];
  return h('table', { className: 'programs fleet-limits' }, [
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
      limits.map((l) =>
        h('tr', { 'data-fleet-limit': l.limit }, [
          h('td', { className: 'mono', text: l.limit }),
          h('td', { className: 'num', text: show(l.rate, l.rate !== null && l.rate < 1 ? 3 : 0) }),
          h('td', { className: 'num', text: show(l.concurrency) }),
          h('td', { text: l.key || '—' }),
          h('td', { className: 'num', text: show(l.current_rate) }),
          h('td', { className: 'num', text: show(l.tokens, 1) }),
          h('td', { className: 'num', text: show(l.slots_held) }),
          h('td', { className: 'num', text: show(l.waiting) }),
          h('td', { className: 'num', text: l.concurrency === null ? '—' : show(l.running) }),
        ]),
      ),
    ),
  ]);
}
