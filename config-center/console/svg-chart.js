// A small inline-SVG line chart (no library): a title, axis labels, one line, a value on hover of
// each point (<title>), and vertical revision markers. Everything from the server goes in as text.

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 440;
const HEIGHT = 170;
const PAD = { left: 52, right: 12, top: 26, bottom: 34 };
let chartIds = 0;

function svg(tag, attrs, children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children || []) if (child) node.append(child);
  return node;
}

/** The top of the y axis: 1, 2 or 5 times a power of ten at or above `max`. */
export function niceCeiling(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= max * 0.999999) return factor * power;
  return 10 * power;
}

/** HH:MM:SS in UTC, as the rest of the console shows times. */
export const clock = (ms) => new Date(ms).toISOString().slice(11, 19);

/** Vertical marker lines with their labels; labels of close markers are stacked so they stay legible. */
function markerGroups(markers, from, to, x, bottom) {
  const placed = [];
  return (markers || [])
    .filter((m) => m.t >= from && m.t <= to)
    .map((m) => {
      const at = x(m.t);
      // The lowest row whose last label ends left of this one (rows of 10 px, at most 4).
      let row = 0;
      while (row < 3 && placed[row] !== undefined && at - placed[row] < 22) row += 1;
      placed[row] = at;
      return svg('g', { class: m.rollback ? 'marker rollback' : 'marker', 'data-revision': m.revision }, [
        svg('title', { text: m.tooltip }),
        svg('line', { class: 'hit', x1: at.toFixed(1), y1: PAD.top - 2, x2: at.toFixed(1), y2: bottom }),
        svg('line', { x1: at.toFixed(1), y1: PAD.top - 2, x2: at.toFixed(1), y2: bottom }),
        svg('text', { x: (at + 2).toFixed(1), y: PAD.top + 8 + row * 10, text: m.label }),
      ]);
    });
}

/**
 * An inline <svg> line chart. `points` are { t (ms), v (number or null: a gap) }; `markers`
 * are { t, label, rollback, tooltip }; `from`..`to` is the time axis; `format(v)` writes a value
 * with its unit; `yMax` caps the axis (1 for a ratio).
 */
export function lineChart({ title, yLabel, points, markers, from, to, format, yMax, className }) {
  const id = `chart-${++chartIds}`;
  const known = points.filter((p) => p.v !== null && p.v !== undefined);
  const top = Math.min(yMax ?? Number.POSITIVE_INFINITY, niceCeiling(Math.max(0, ...known.map((p) => p.v))));
  const span = Math.max(1, to - from);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - from) / span) * plotW;
  const y = (v) => PAD.top + plotH - (Math.min(v, top) / top) * plotH;

  let d = '';
  let pen = 'M';
  for (const p of points) {
    if (p.v === null || p.v === undefined) {
      pen = 'M';
      continue;
    }
    d += `${pen}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    pen = 'L';
  }
  const latest = known.at(-1);
  const summary = latest
    ? `${known.length} points from ${clock(known[0].t)} to ${clock(latest.t)} UTC; latest ${format(latest.v)}`
    : 'no data in the window';
  const bottom = PAD.top + plotH;
  return svg(
    'svg',
    {
      class: `chart ${className || ''}`.trim(),
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
      'data-points': known.length,
    },
    [
      svg('title', { id: `${id}-title`, text: title }),
      svg('desc', { id: `${id}-desc`, text: summary }),
      svg('text', { class: 'chart-title', x: PAD.left, y: 16, text: title }),
      // y axis: 0 and the top, with the quantity as its label.
      svg('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }),
      svg('line', { class: 'grid', x1: PAD.left, y1: PAD.top, x2: WIDTH - PAD.right, y2: PAD.top }),
      svg('text', { class: 'tick', x: PAD.left - 4, y: PAD.top + 4, 'text-anchor': 'end', text: format(top) }),
      svg('text', { class: 'tick', x: PAD.left - 4, y: bottom, 'text-anchor': 'end', text: format(0) }),
      svg('text', {
        class: 'axis-label',
        transform: `translate(12 ${PAD.top + plotH / 2}) rotate(-90)`,
        'text-anchor': 'middle',
        text: yLabel,
      }),
      // x axis: the window's ends, in UTC.
      svg('line', { class: 'axis', x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom }),
      svg('text', { class: 'tick', x: PAD.left, y: bottom + 14, text: clock(from) }),
      svg('text', { class: 'tick', x: WIDTH - PAD.right, y: bottom + 14, 'text-anchor': 'end', text: clock(to) }),
      svg('text', {
        class: 'axis-label',
        x: PAD.left + plotW / 2,
        y: HEIGHT - 4,
        'text-anchor': 'middle',
        text: 'time (UTC)',
      }),
      svg('g', { class: 'markers' }, markerGroups(markers, from, to, x, bottom)),
      d
        ? svg('path', { class: 'line', d })
        : svg('text', {
            class: 'empty',
            x: PAD.left + plotW / 2,
            y: PAD.top + plotH / 2,
            'text-anchor': 'middle',
            text: 'no data yet',
          }),
      svg(
        'g',
        { class: 'points' },
        known.map((p) =>
          svg('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.2 }, [
            svg('title', { text: `${clock(p.t)} UTC: ${format(p.v)}` }),
          ]),
        ),
      ),
    ],
  );
}
