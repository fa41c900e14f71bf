// Image figures of the CNN and GAN pages: canvases painted one pixel per
// value, colour bars with tick labels for them, and a value read-out on
// hover whose tooltip goes away whenever a figure is redrawn.
// (heatmap.js has its own colour bar for the transformer pages; the two
// can be unified later.)

import { el, svg, fmt, tooltip, divergingRGB, sequentialRGB, rgbCSS } from './lib.js';
import { niceTicks } from './chart.js';

const clamp01 = (t) => Math.min(1, Math.max(0, t));

// paint draws h×w values on a canvas at one pixel per value (CSS scales
// it, pixelated); rgb maps a value to [r, g, b].
export function paint(canvas, vals, h, w, rgb) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = rgb(vals[i]);
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// Colour scales: each maps a value to [r, g, b] and carries its range.
export function greyScale(lo, hi) {
  const f = (v) => {
    const g = Math.round(255 * clamp01(hi > lo ? (v - lo) / (hi - lo) : 0));
    return [g, g, g];
  };
  return Object.assign(f, { lo, hi });
}

// symmetricScale is blue (−m) → white (0) → red (+m).
export function symmetricScale(m) {
  const f = (v) => divergingRGB(m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0);
  return Object.assign(f, { lo: -m, hi: m });
}

// heatScale is white (lo) → dark blue (hi).
export function heatScale(lo, hi) {
  const f = (v) => sequentialRGB(clamp01(hi > lo ? (v - lo) / (hi - lo) : 0));
  return Object.assign(f, { lo, hi });
}

// colourBar is a horizontal legend of scale (from greyScale,
// symmetricScale or heatScale) with tick labels, an optional caption and
// marks ([{v, label}], lines across the bar).
export function colourBar(scale, { label = '', testid = '', width = 150, marks = [] } = {}) {
  const { lo, hi } = scale;
  const pad = 16, h = 9, top = label ? 13 : 2;
  const s = svg('svg', { width: width + 2 * pad, height: top + h + (marks.length ? 28 : 16), class: 'vbar-svg' });
  if (label) s.append(svg('text', { x: pad, y: 9, class: 'vbar-label' }, label));
  const n = 40;
  for (let k = 0; k < n; k++) {
    const v = lo + ((hi - lo) * (k + 0.5)) / n;
    s.append(svg('rect', { x: pad + (k * width) / n, y: top, width: width / n + 0.5, height: h, fill: rgbCSS(scale(v)) }));
  }
  s.append(svg('rect', { x: pad, y: top, width, height: h, class: 'vbar-frame' }));
  const X = (v) => pad + ((v - lo) / (hi - lo || 1)) * width;
  const ticks = niceTicks(lo, hi, 4);
  for (const v of ticks) {
    s.append(svg('line', { x1: X(v), x2: X(v), y1: top + h, y2: top + h + 3, class: 'vbar-tick' }));
    s.append(svg('text', { x: X(v), y: top + h + 12, 'text-anchor': 'middle', class: 'vbar-text' }, fmt(v, 2)));
  }
  for (const m of marks) {
    s.append(svg('line', { x1: X(m.v), x2: X(m.v), y1: top - 2, y2: top + h + 2, class: 'vbar-mark' }));
    s.append(svg('text', { x: X(m.v), y: top + h + 24, 'text-anchor': 'middle', class: 'vbar-marktext' }, m.label));
  }
  const attrs = { class: 'vbar', dataset: { lo, hi, ticks: ticks.length } };
  if (testid) attrs['data-testid'] = testid;
  return el('div', attrs, s);
}

// readout shows the value under the mouse of a canvas painted from vals
// (h×w) in the shared tooltip; what(y, x, v) gives its lines.
export function readout(canvas, vals, h, w, what) {
  canvas.addEventListener('mousemove', (ev) => {
    const r = canvas.getBoundingClientRect();
    const x = Math.min(w - 1, Math.floor(((ev.clientX - r.left) / r.width) * w));
    const y = Math.min(h - 1, Math.floor(((ev.clientY - r.top) / r.height) * h));
    tooltip.show(what(y, x, vals[y * w + x]), ev.clientX, ev.clientY);
  });
  canvas.addEventListener('mouseleave', () => tooltip.hide());
}

// clearTips hides the tooltip: every redraw calls it, so no tooltip of an
// old figure stays over a new one.
export function clearTips() {
  tooltip.hide();
}
