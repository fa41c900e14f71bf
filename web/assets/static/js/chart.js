// Line charts in SVG: linear or log axes (toggled by the user), a hover
// read-out of every series at the nearest x, drag-to-zoom on x
// (double-click resets), vertical markers and horizontal reference lines.

import { el, svg, tooltip, fmt, PALETTE } from './lib.js';

let clipSeq = 0;

// niceTicks returns about n round values covering [lo, hi].
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

// logTicks returns powers of ten in [lo, hi], with 2× and 5× when few.
function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const out = [];
  for (let k = a; k <= b; k++) {
    for (const m of b - a <= 2 ? [1, 2, 5] : [1]) {
      const v = m * 10 ** k;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  // Less than a decade: round values in between, as on a linear axis.
  return out.length >= 2 ? out : niceTicks(lo, hi, 4).filter((v) => v > 0);
}

function tickLabel(v, log) {
  if (log) {
    const k = Math.log10(v);
    if (Math.abs(k - Math.round(k)) < 1e-9 && (k >= 4 || k <= -3)) return `1e${Math.round(k)}`;
  }
  const a = Math.abs(v);
  if (a >= 1e4 || (a > 0 && a < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

// nearest returns the index of the point with x closest to x (points sorted by x).
function nearest(points, x) {
  let lo = 0, hi = points.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < x) lo = mid; else hi = mid;
  }
  return Math.abs(points[lo][0] - x) <= Math.abs(points[hi][0] - x) ? lo : hi;
}

export class LineChart {
  // o: title, xLabel, yLabel, logX, logY, height, width, xTicks ([{v,
  // label}] replaces the x ticks), yMin/yMax (fixed domain), testid.
  constructor(container, o = {}) {
    this.o = { height: 250, width: 520, ...o };
    this.logX = !!o.logX;
    this.logY = !!o.logY;
    this.series = [];
    this.markers = [];
    this.hlines = [];
    this.zoom = null;
    this.clipId = `clip${++clipSeq}`;
    const toggles = el('span', { class: 'chart-tools' },
      el('label', {}, this.cbX = el('input', { type: 'checkbox', checked: this.logX, onchange: () => { this.logX = this.cbX.checked; this.render(); } }), ' log x'),
      el('label', {}, this.cbY = el('input', { type: 'checkbox', checked: this.logY, onchange: () => { this.logY = this.cbY.checked; this.render(); } }), ' log y'),
      this.resetBtn = el('button', { class: 'small', hidden: true, onclick: () => { this.zoom = null; this.render(); } }, 'reset zoom'));
    if (o.xTicks) this.cbX.parentNode.hidden = true;
    this.svg = svg('svg', { class: 'chart-svg', width: this.o.width, height: this.o.height, 'data-testid': o.testid });
    this.legend = el('div', { class: 'legend' });
    this.node = el('div', { class: 'chart' },
      el('div', { class: 'chart-head' }, el('strong', {}, o.title || ''), toggles),
      this.svg, this.legend);
    container.replaceChildren(this.node);
    this.bind();
    this.render();
  }

  // setData replaces the series ([{name, points: [[x, y]], color, dash}]),
  // markers ([{x, label}]) and reference lines ([{y, label}]).
  setData({ series, markers, hlines }) {
    if (series) this.series = series.map((s, i) => ({ color: PALETTE[i % PALETTE.length], ...s }));
    if (markers) this.markers = markers;
    if (hlines) this.hlines = hlines;
    this.render();
  }

  domain() {
    const okX = (x) => Number.isFinite(x) && (!this.logX || x > 0);
    const okY = (y) => Number.isFinite(y) && (!this.logY || y > 0);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of this.series) {
      for (const [x, y] of s.points) {
        if (!okX(x) || !okY(y)) continue;
        if (this.zoom && (x < this.zoom[0] || x > this.zoom[1])) continue;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
    for (const h of this.hlines) if (okY(h.y)) { y0 = Math.min(y0, h.y); y1 = Math.max(y1, h.y); }
    if (this.zoom) [x0, x1] = this.zoom;
    if (!Number.isFinite(x0)) { x0 = this.logX ? 1 : 0; x1 = this.logX ? 10 : 1; }
    if (!Number.isFinite(y0)) { y0 = this.logY ? 0.1 : 0; y1 = this.logY ? 1 : 1; }
    if (this.o.yMin !== undefined && !this.logY) y0 = Math.min(y0, this.o.yMin);
    if (this.o.yMax !== undefined) y1 = Math.max(y1, this.o.yMax);
    if (x1 === x0) { x1 = this.logX ? x0 * 10 : x0 + 1; }
    if (y1 === y0) { if (this.logY) { y0 /= 2; y1 *= 2; } else { y0 -= 0.5; y1 += 0.5; } }
    if (this.logY) { y0 /= 1.15; y1 *= 1.15; } else { const p = (y1 - y0) * 0.05; y0 -= (this.o.yMin === y0 ? 0 : p); y1 += p; }
    return [x0, x1, y0, y1];
  }

  render() {
    const W = this.o.width, H = this.o.height;
    const m = { l: 52, r: 14, t: 10, b: 36 };
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const [x0, x1, y0, y1] = this.domain();
    const tx = this.logX ? Math.log10 : (v) => v;
    const ty = this.logY ? Math.log10 : (v) => v;
    const sx = (v) => m.l + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * pw;
    const sy = (v) => m.t + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph;
    this.scale = { sx, sy, x0, x1, m, pw, ph, inv: (px) => { const t = (px - m.l) / pw; return this.logX ? 10 ** (tx(x0) + t * (tx(x1) - tx(x0))) : x0 + t * (x1 - x0); } };
    const kids = [];
    kids.push(svg('defs', {}, svg('clipPath', { id: this.clipId }, svg('rect', { x: m.l, y: m.t, width: pw, height: ph }))));
    // Grid and ticks.
    const yt = this.logY ? logTicks(y0, y1) : niceTicks(y0, y1);
    for (const v of yt) {
      const y = sy(v);
      kids.push(svg('line', { x1: m.l, x2: m.l + pw, y1: y, y2: y, class: 'grid' }));
      kids.push(svg('text', { x: m.l - 5, y: y + 3, 'text-anchor': 'end', class: 'tick' }, tickLabel(v, this.logY)));
    }
    const xt = this.o.xTicks
      ? this.o.xTicks.filter((t) => t.v >= x0 && t.v <= x1)
      : (this.logX ? logTicks(x0, x1) : niceTicks(x0, x1, 6)).map((v) => ({ v, label: tickLabel(v, this.logX) }));
    for (const t of xt) {
      const x = sx(t.v);
      // Labels at the plot's edges grow inwards, so they are not cut off.
      const w = 3 * String(t.label).length;
      const anchor = x + w > W - 2 ? 'end' : (x - w < 2 ? 'start' : 'middle');
      kids.push(svg('line', { x1: x, x2: x, y1: m.t, y2: m.t + ph, class: 'grid' }));
      kids.push(svg('text', { x, y: m.t + ph + 14, 'text-anchor': anchor, class: 'tick' }, t.label));
    }
    kids.push(svg('rect', { x: m.l, y: m.t, width: pw, height: ph, class: 'frame' }));
    if (this.o.xLabel) kids.push(svg('text', { x: m.l + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label' }, this.o.xLabel + (this.logX ? ' (log)' : '')));
    if (this.o.yLabel) kids.push(svg('text', { x: 12, y: m.t + ph / 2, transform: `rotate(-90 12 ${m.t + ph / 2})`, 'text-anchor': 'middle', class: 'axis-label' }, this.o.yLabel + (this.logY ? ' (log)' : '')));
    const plot = svg('g', { 'clip-path': `url(#${this.clipId})` });
    for (const h of this.hlines) {
      if (this.logY && !(h.y > 0)) continue;
      const y = sy(h.y);
      plot.append(svg('line', { x1: m.l, x2: m.l + pw, y1: y, y2: y, class: 'hline' }));
      plot.append(svg('text', { x: m.l + pw - 4, y: y - 4, 'text-anchor': 'end', class: 'hline-text' }, h.label));
    }
    for (const mk of this.markers) {
      if ((this.logX && !(mk.x > 0)) || mk.x < x0 || mk.x > x1) continue;
      const x = sx(mk.x);
      plot.append(svg('line', { x1: x, x2: x, y1: m.t, y2: m.t + ph, class: 'marker', 'data-testid': 'marker' }));
      plot.append(svg('text', { x: x + 4, y: m.t + 12, class: 'marker-text' }, mk.label));
    }
    for (const s of this.series) {
      const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!this.logX || x > 0) && (!this.logY || y > 0));
      if (!pts.length) continue;
      const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      plot.append(svg('path', {
        d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 1.6, 'stroke-dasharray': s.dash ? '5 3' : null,
        class: 'series', 'data-series': s.name, 'data-n': pts.length,
      }));
      if (pts.length === 1) plot.append(svg('circle', { cx: sx(pts[0][0]), cy: sy(pts[0][1]), r: 2.5, fill: s.color }));
    }
    kids.push(plot);
    this.cross = svg('line', { y1: m.t, y2: m.t + ph, class: 'crosshair', visibility: 'hidden' });
    this.dots = svg('g', {});
    this.sel = svg('rect', { y: m.t, height: ph, class: 'zoom-sel', visibility: 'hidden' });
    this.overlay = svg('rect', { x: m.l, y: m.t, width: pw, height: ph, class: 'overlay' });
    kids.push(this.cross, this.dots, this.sel, this.overlay);
    this.svg.replaceChildren(...kids);
    this.legend.replaceChildren(...this.series.filter((s) => !s.hideLegend).map((s) => el('span', { class: 'legend-item' },
      el('i', { class: s.dash ? 'swatch dash' : 'swatch', 'data-color': s.color }), s.name)));
    for (const i of this.legend.querySelectorAll('i.swatch')) i.style.borderColor = i.dataset.color;
    this.resetBtn.hidden = !this.zoom;
  }

  bind() {
    let drag = null;
    const px = (ev) => ev.clientX - this.svg.getBoundingClientRect().left;
    this.svg.addEventListener('mousedown', (ev) => {
      if (ev.target !== this.overlay) return;
      drag = px(ev);
      ev.preventDefault();
    });
    this.svg.addEventListener('mousemove', (ev) => {
      const { m, pw } = this.scale;
      const x = px(ev);
      if (drag !== null) {
        const a = Math.max(m.l, Math.min(drag, x)), b = Math.min(m.l + pw, Math.max(drag, x));
        this.sel.setAttribute('x', a);
        this.sel.setAttribute('width', b - a);
        this.sel.setAttribute('visibility', 'visible');
      }
      if (ev.target !== this.overlay && drag === null) return;
      this.hover(x, ev);
    });
    const end = (ev) => {
      if (drag === null) return;
      const x = px(ev);
      const a = Math.min(drag, x), b = Math.max(drag, x);
      drag = null;
      this.sel.setAttribute('visibility', 'hidden');
      if (b - a > 6) {
        this.zoom = [this.scale.inv(a), this.scale.inv(b)];
        this.render();
      }
    };
    this.svg.addEventListener('mouseup', end);
    this.svg.addEventListener('mouseleave', (ev) => {
      end(ev);
      this.cross.setAttribute('visibility', 'hidden');
      this.dots.replaceChildren();
      tooltip.hide();
    });
    this.svg.addEventListener('dblclick', () => { this.zoom = null; this.render(); });
  }

  // hover shows every series' value at the point nearest the mouse.
  hover(px, ev) {
    const xv = this.scale.inv(px);
    let best = null;
    for (const s of this.series) {
      const i = nearest(s.points, xv);
      if (i >= 0 && (best === null || Math.abs(s.points[i][0] - xv) < Math.abs(best - xv))) best = s.points[i][0];
    }
    if (best === null) return;
    const lines = [[this.o.xLabel || 'x', fmt(best, 0)]];
    const dots = [];
    for (const s of this.series) {
      const i = nearest(s.points, best);
      if (i < 0 || s.points[i][0] !== best) continue;
      const y = s.points[i][1];
      lines.push([s.name, fmt(y, 4)]);
      if (Number.isFinite(y) && (!this.logY || y > 0)) dots.push(svg('circle', { cx: this.scale.sx(best), cy: this.scale.sy(y), r: 3, fill: s.color, class: 'hover-dot' }));
    }
    const x = this.scale.sx(best);
    this.cross.setAttribute('x1', x);
    this.cross.setAttribute('x2', x);
    this.cross.setAttribute('visibility', 'visible');
    this.dots.replaceChildren(...dots);
    tooltip.show(lines.slice(0, 14), ev.clientX, ev.clientY);
  }
}
