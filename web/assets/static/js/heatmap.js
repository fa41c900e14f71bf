// Heatmaps with row and column labels, tooltips, hover and click. Grids of
// up to 64×64 cells are SVG rectangles; larger ones are drawn on a canvas
// under an SVG layer that holds the labels and the highlight.

import { el, svg, tooltip, fmt } from './lib.js';

const MAX_SVG_CELLS = 64 * 64;
const MASK = '#d9d9de';

// heatmap returns {node, highlight(i, j), redraw()}. Options:
//   rows, cols            grid size
//   value(i, j)           the number in a cell (null: empty)
//   color(v, i, j)        its fill
//   masked(i, j)          drawn grey and not hoverable
//   rowLabels, colLabels  strings (optional)
//   rowTitle, colTitle    axis titles (optional)
//   rgb(v, i, j)          its fill as [r, g, b]: canvas grids then paint
//                         pixels at once (fast for 1,024×1,024 grids)
//   pixels(px)            fills the RGBA buffer of rows×cols pixels itself
//                         (faster still; with rgb)
//   cell                  cell size in px (default: fit maxWidth, minCell..28)
//   minCell               smallest fitted cell size in px (default 4)
//   maxWidth              px (default 720)
//   tooltip(i, j, v)      lines for the tooltip (default: value)
//   onHover(i, j)         called with (null, null) on leave
//   onClick(i, j)
//   showValues            print values in cells large enough
//   format(v)             the printed value (default: fmt(v, 2) shortened)
//   testid                data-testid of the node
export function heatmap(o) {
  const rowLabels = o.rowLabels || [];
  const colLabels = o.colLabels || [];
  const maxLabel = (ls) => ls.reduce((m, s) => Math.max(m, String(s).length), 0);
  const maxWidth = o.maxWidth || 720;
  const left0 = rowLabels.length ? 10 + 6.5 * maxLabel(rowLabels) : 4;
  const left = left0 + (o.rowTitle ? 16 : 0);
  const cell = o.cell || Math.max(o.minCell || 4, Math.min(28, Math.floor((maxWidth - left - 8) / o.cols)));
  const rotate = colLabels.length && cell < 6.5 * maxLabel(colLabels) + 4;
  const topH = colLabels.length ? (rotate ? 8 + 6 * maxLabel(colLabels) : 16) : 4;
  const top = topH + (o.colTitle ? 16 : 0);
  const gw = o.cols * cell, gh = o.rows * cell;
  const W = left + gw + 8, H = top + gh + 6;
  const font = Math.max(8, Math.min(11, cell * 0.8));
  const useCanvas = o.rows * o.cols > MAX_SVG_CELLS;

  // The geometry is on the node for tests and tools: cell (row, col) is at
  // (left + col·cell, top + row·cell) inside it.
  const node = el('div', { class: 'heatmap', 'data-testid': o.testid, 'data-left': left, 'data-top': top, 'data-cell': cell });
  node.style.width = `${W}px`;
  node.style.height = `${H}px`;
  const layer = svg('svg', { width: W, height: H, class: 'hm-layer' });
  const cells = svg('g', { 'shape-rendering': 'crispEdges' });
  let canvas = null;

  function draw() {
    if (useCanvas) {
      if (!canvas) {
        canvas = el('canvas', { class: 'hm-canvas' });
        const dpr = window.devicePixelRatio || 1;
        canvas.width = Math.round(gw * dpr);
        canvas.height = Math.round(gh * dpr);
        canvas.style.width = `${gw}px`;
        canvas.style.height = `${gh}px`;
        canvas.style.left = `${left}px`;
        canvas.style.top = `${top}px`;
        node.prepend(canvas);
      }
      const ctx = canvas.getContext('2d');
      if (o.rgb) {
        paintPixels(ctx, canvas, o);
        return;
      }
      const s = canvas.width / gw;
      for (let i = 0; i < o.rows; i++) {
        for (let j = 0; j < o.cols; j++) {
          const masked = o.masked && o.masked(i, j);
          const v = masked ? null : o.value(i, j);
          ctx.fillStyle = masked ? MASK : (v === null || v === undefined ? '#fff' : o.color(v, i, j));
          ctx.fillRect(Math.floor(j * cell * s), Math.floor(i * cell * s), Math.ceil(cell * s), Math.ceil(cell * s));
        }
      }
      return;
    }
    const kids = [];
    for (let i = 0; i < o.rows; i++) {
      for (let j = 0; j < o.cols; j++) {
        const masked = o.masked && o.masked(i, j);
        const v = masked ? null : o.value(i, j);
        const fill = masked ? MASK : (v === null || v === undefined ? '#fff' : o.color(v, i, j));
        kids.push(svg('rect', { x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill }));
        if (o.showValues && !masked && v !== null && cell >= 26) {
          kids.push(svg('text', {
            x: left + (j + 0.5) * cell, y: top + (i + 0.5) * cell + 3, 'text-anchor': 'middle', class: 'hm-val',
          }, o.format ? o.format(v) : fmt(v, 2).replace(/^0\./, '.').replace(/^-0\./, '-.')));
        }
      }
    }
    cells.replaceChildren(...kids);
  }

  // Labels, thinned when cells are too small to hold one each.
  const labels = svg('g', { class: 'hm-labels', 'font-size': font });
  const every = (n) => Math.max(1, Math.ceil(n / cell));
  const rowStep = every(font + 1);
  rowLabels.forEach((s, i) => {
    if (i % rowStep) return;
    labels.append(svg('text', { x: left - 4, y: top + (i + 0.5) * cell + font / 3, 'text-anchor': 'end' }, s));
  });
  const colStep = rotate ? every(font + 1) : 1;
  colLabels.forEach((s, j) => {
    if (j % colStep) return;
    const x = left + (j + 0.5) * cell;
    if (rotate) {
      labels.append(svg('text', { x, y: top - 4, transform: `rotate(-90 ${x} ${top - 4})`, dy: font / 3 }, s));
    } else {
      labels.append(svg('text', { x, y: top - 5, 'text-anchor': 'middle' }, s));
    }
  });
  if (o.rowTitle) {
    const y = top + gh / 2;
    labels.append(svg('text', { x: 11, y, transform: `rotate(-90 11 ${y})`, 'text-anchor': 'middle', class: 'hm-title' }, o.rowTitle));
  }
  if (o.colTitle) labels.append(svg('text', { x: left + gw / 2, y: 11, 'text-anchor': 'middle', class: 'hm-title' }, o.colTitle));

  const hl = svg('rect', { class: 'hm-hl', width: cell, height: cell, visibility: 'hidden' });
  const rowHl = svg('rect', { class: 'hm-rowhl', x: left, width: gw, height: cell, visibility: 'hidden' });
  const grid = svg('rect', { x: left, y: top, width: gw, height: gh, class: 'hm-frame' });
  layer.append(cells, grid, labels, rowHl, hl);
  node.append(layer);
  draw();

  function highlight(i, j) {
    if (i === null || i === undefined) {
      hl.setAttribute('visibility', 'hidden');
      rowHl.setAttribute('visibility', 'hidden');
      return;
    }
    rowHl.setAttribute('y', top + i * cell);
    rowHl.setAttribute('visibility', 'visible');
    if (j === null || j === undefined) {
      hl.setAttribute('visibility', 'hidden');
      return;
    }
    hl.setAttribute('x', left + j * cell);
    hl.setAttribute('y', top + i * cell);
    hl.setAttribute('visibility', 'visible');
  }

  function cellAt(ev) {
    const r = layer.getBoundingClientRect();
    const x = ev.clientX - r.left - left, y = ev.clientY - r.top - top;
    if (x < 0 || y < 0 || x >= gw || y >= gh) return null;
    return [Math.floor(y / cell), Math.floor(x / cell)];
  }

  let last = null;
  layer.addEventListener('mousemove', (ev) => {
    const c = cellAt(ev);
    if (!c || (o.masked && o.masked(c[0], c[1]))) {
      if (last) { last = null; highlight(null); tooltip.hide(); if (o.onHover) o.onHover(null, null); }
      return;
    }
    const [i, j] = c;
    const v = o.value(i, j);
    highlight(i, j);
    tooltip.show(o.tooltip ? o.tooltip(i, j, v) : [fmt(v)], ev.clientX, ev.clientY);
    if (!last || last[0] !== i || last[1] !== j) {
      last = c;
      if (o.onHover) o.onHover(i, j);
    }
  });
  layer.addEventListener('mouseleave', () => {
    last = null;
    highlight(null);
    tooltip.hide();
    if (o.onHover) o.onHover(null, null);
  });
  if (o.onClick) {
    layer.classList.add('clickable');
    layer.addEventListener('click', (ev) => {
      const c = cellAt(ev);
      if (c && !(o.masked && o.masked(c[0], c[1]))) o.onClick(c[0], c[1]);
    });
  }
  return { node, highlight, redraw: draw, cell };
}

const MASK_RGB = [0xd9, 0xd9, 0xde];

// paintPixels draws grid o into canvas one pixel a cell, scaled up without
// smoothing: a single putImageData instead of a fillRect per cell.
function paintPixels(ctx, canvas, o) {
  const img = new ImageData(o.cols, o.rows);
  if (o.pixels) o.pixels(img.data);
  else fillPixels(img.data, o);
  const off = document.createElement('canvas');
  off.width = o.cols;
  off.height = o.rows;
  off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

// fillPixels fills an RGBA buffer with grid o's cells, one call per cell.
function fillPixels(px, o) {
  let k = 0;
  for (let i = 0; i < o.rows; i++) {
    for (let j = 0; j < o.cols; j++, k += 4) {
      const masked = o.masked && o.masked(i, j);
      const v = masked ? null : o.value(i, j);
      const c = masked ? MASK_RGB : (v === null || v === undefined ? [255, 255, 255] : o.rgb(v, i, j));
      px[k] = c[0]; px[k + 1] = c[1]; px[k + 2] = c[2]; px[k + 3] = 255;
    }
  }
}

// scaleTicks returns about n round values in [lo, hi] as colour-bar ticks
// ([{v, label}]), lo and hi included when nothing round is near them.
export function scaleTicks(lo, hi, n = 4) {
  if (!(hi > lo)) return [{ v: lo, label: fmt(lo, 2) }];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (step / mag === 2.5 ? 1 : 0));
  const label = (v) => (Math.abs(v) >= 1e4 ? v.toExponential(1) : v.toFixed(Math.min(digits, 6)));
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    const r = Math.abs(v) < step * 1e-9 ? 0 : v;
    out.push({ v: r, label: label(r) });
  }
  return out.length >= 2 ? out : [{ v: lo, label: fmt(lo, 2) }, { v: hi, label: fmt(hi, 2) }];
}

// withColorbar puts a heatmap ({node} as heatmap returns, or a node) and
// its colour bar together in a figure box that scrolls sideways when it is
// wider than the page. bar holds colorbar's options; ticks default to
// scaleTicks(lo, hi). Any page's heatmap gets its scale this way.
export function withColorbar(hm, bar) {
  const node = hm instanceof Node ? hm : hm.node;
  const ticks = bar.ticks || scaleTicks(bar.lo, bar.hi);
  return el('div', { class: 'hm-figure' }, node, colorbar({ ...bar, ticks }));
}

// colorbar draws a horizontal legend from lo to hi with the given ticks
// ([{v, label}]; default scaleTicks(lo, hi)) and marks ([{v, label}],
// drawn as lines across the bar).
export function colorbar({ lo, hi, color, ticks = scaleTicks(lo, hi), marks = [], width = 240, label = '' }) {
  const h = 10, pad = 28, top = label ? 14 : 2;
  const s = svg('svg', { width: width + 2 * pad, height: top + h + 30, class: 'colorbar' });
  if (label) s.append(svg('text', { x: pad, y: 10, class: 'cb-label' }, label));
  const n = 48;
  for (let k = 0; k < n; k++) {
    const v = lo + ((hi - lo) * (k + 0.5)) / n;
    s.append(svg('rect', { x: pad + (k * width) / n, y: top, width: width / n + 0.5, height: h, fill: color(v) }));
  }
  const X = (v) => pad + ((v - lo) / (hi - lo || 1)) * width;
  for (const t of ticks) {
    s.append(svg('line', { x1: X(t.v), x2: X(t.v), y1: top + h, y2: top + h + 3, class: 'cb-tick' }));
    s.append(svg('text', { x: X(t.v), y: top + h + 13, 'text-anchor': 'middle', class: 'cb-text' }, t.label));
  }
  for (const m of marks) {
    s.append(svg('line', { x1: X(m.v), x2: X(m.v), y1: top - 2, y2: top + h + 2, class: 'cb-mark' }));
    s.append(svg('text', { x: X(m.v), y: top + h + 25, 'text-anchor': 'middle', class: 'cb-marktext' }, m.label));
  }
  return s;
}
