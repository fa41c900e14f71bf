// The attention page: every head's pattern on a token sequence, a zoomed
// pattern with tooltips, a token strip, and a max-over-heads view.

import { $, $$, el, api, guard, modelPicker, parseTokens, headColor, tint, rgbCSS, fmt, tooltip, figureLinks } from './lib.js';
import { heatmap } from './heatmap.js';

const THUMB = 76; // thumbnail size, px
const MAX = 'max'; // the max-over-heads view's key

const links = figureLinks('attention-links');

const state = {
  model: null, info: null, data: null,
  focus: null,   // {l, h} or MAX
  locked: false,
  hoverPos: null,
  zoom: null,
};

const nHeadsTotal = () => state.data.n_layers * state.data.n_heads;
const headIndex = (l, h) => l * state.data.n_heads + h;
const at = (p, q, k) => (k <= q ? p[q][k] : 0);

// pattern returns the focused [dest][src] accessor and the colour of a value.
function focusPattern(f) {
  const d = state.data;
  if (f === MAX) {
    return {
      value: (q, k) => {
        let best = 0;
        for (let l = 0; l < d.n_layers; l++) for (let h = 0; h < d.n_heads; h++) best = Math.max(best, at(d.patterns[l][h], q, k));
        return best;
      },
      argmax: (q, k) => {
        let best = -1, bl = 0, bh = 0;
        for (let l = 0; l < d.n_layers; l++) for (let h = 0; h < d.n_heads; h++) {
          const v = at(d.patterns[l][h], q, k);
          if (v > best) { best = v; bl = l; bh = h; }
        }
        return [bl, bh];
      },
    };
  }
  return { value: (q, k) => at(d.patterns[f.l][f.h], q, k) };
}

function colorFor(f, q, k, v) {
  if (f === MAX) {
    const [l, h] = focusPattern(MAX).argmax(q, k);
    return tint(headColor(headIndex(l, h), nHeadsTotal()), Math.sqrt(v));
  }
  return tint(headColor(headIndex(f.l, f.h), nHeadsTotal()), Math.sqrt(v));
}

// scores computes, on this sequence, a head's previous-token score (mean
// attention to the previous position) and induction score (mean attention
// to the position after an earlier occurrence of the current token).
function scores(p, toks) {
  let prev = 0, np = 0, ind = 0, ni = 0;
  for (let q = 1; q < toks.length; q++) { prev += p[q][q - 1]; np++; }
  for (let q = 1; q < toks.length; q++) {
    let s = 0, any = false;
    for (let k = 0; k + 1 < q; k++) if (toks[k] === toks[q]) { s += p[q][k + 1]; any = true; }
    if (any) { ind += s; ni++; }
  }
  return { prev: np ? prev / np : 0, ind: ni ? ind / ni : null };
}

// strongestInduction returns the head with the highest induction score on
// this sequence (the last layer's first head if no token repeats).
function strongestInduction() {
  const d = state.data;
  let best = { l: d.n_layers - 1, h: 0 }, top = -1;
  for (let l = 0; l < d.n_layers; l++) {
    for (let h = 0; h < d.n_heads; h++) {
      const s = scores(d.patterns[l][h], d.tokens).ind;
      if (s !== null && s > top) { top = s; best = { l, h }; }
    }
  }
  return best;
}

function drawThumb(canvas, f) {
  const d = state.data, T = d.tokens.length;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = THUMB * dpr;
  canvas.height = THUMB * dpr;
  canvas.style.width = `${THUMB}px`;
  canvas.style.height = `${THUMB}px`;
  const ctx = canvas.getContext('2d');
  const c = (THUMB * dpr) / T;
  const fp = focusPattern(f);
  for (let q = 0; q < T; q++) {
    for (let k = 0; k < T; k++) {
      ctx.fillStyle = k > q ? '#ececf0' : colorFor(f, q, k, fp.value(q, k));
      ctx.fillRect(Math.floor(k * c), Math.floor(q * c), Math.ceil(c), Math.ceil(c));
    }
  }
}

function renderGrid() {
  const d = state.data;
  const grid = $('#grid');
  const tiles = [];
  for (let l = 0; l < d.n_layers; l++) {
    const row = el('div', { class: 'head-row' }, el('div', { class: 'layer-label' }, `layer ${l}`));
    for (let h = 0; h < d.n_heads; h++) {
      const label = `L${l}H${h}`;
      const sc = scores(d.patterns[l][h], d.tokens);
      const canvas = el('canvas', {});
      const tile = el('button', {
        class: 'thumb', 'data-head': label, title: `${label}: click to lock`,
        onmouseenter: () => { if (!state.locked) focus({ l, h }); },
        onclick: () => toggleLock({ l, h }),
      }, canvas,
      el('span', { class: 'thumb-label' }, el('i', { class: 'dot', 'data-color': rgbCSS(headColor(headIndex(l, h), nHeadsTotal())) }), label),
      el('span', { class: 'thumb-score' }, `prev ${fmt(sc.prev, 2)} · ind ${sc.ind === null ? '–' : fmt(sc.ind, 2)}`));
      drawThumb(canvas, { l, h });
      row.append(tile);
      tiles.push(tile);
    }
    grid.append(row);
  }
  const maxCanvas = el('canvas', {});
  const maxTile = el('button', {
    class: 'thumb', 'data-head': MAX, title: 'max over heads: each cell coloured by the head attending most',
    onmouseenter: () => { if (!state.locked) focus(MAX); },
    onclick: () => toggleLock(MAX),
  }, maxCanvas, el('span', { class: 'thumb-label' }, 'max over heads'), el('span', { class: 'thumb-score' }, 'colour = argmax head'));
  drawThumb(maxCanvas, MAX);
  grid.prepend(el('div', { class: 'head-row' }, el('div', { class: 'layer-label' }, 'all'), maxTile));
  for (const i of $$('#grid i.dot')) i.style.background = i.dataset.color;
}

const sameFocus = (a, b) => a === b || (a && b && a !== MAX && b !== MAX && a.l === b.l && a.h === b.h);

function toggleLock(f) {
  if (state.locked && sameFocus(state.focus, f)) {
    state.locked = false;
  } else {
    state.locked = true;
    focus(f);
  }
  updateLockUI();
}

function updateLockUI() {
  const key = state.focus === MAX ? MAX : `L${state.focus.l}H${state.focus.h}`;
  for (const t of $$('#grid .thumb')) {
    t.classList.toggle('focused', t.dataset.head === key);
    t.classList.toggle('locked', state.locked && t.dataset.head === key);
  }
  $('#lock-state').hidden = !state.locked;
}

function focus(f) {
  if (sameFocus(state.focus, f) && state.zoom) return;
  state.focus = f;
  renderZoom();
  renderStrip();
  updateLockUI();
}

function renderZoom() {
  const d = state.data, f = state.focus, T = d.tokens.length;
  const fp = focusPattern(f);
  const name = f === MAX ? 'max over heads' : `L${f.l}H${f.h}`;
  $('#focus-title').textContent = `Pattern · ${name}`;
  links.set(`/api/models/${encodeURIComponent(state.model)}/figures/attention`,
    f === MAX ? { tokens: d.tokens.join(','), head: 'max' } : { tokens: d.tokens.join(','), layer: f.l, head: f.h });
  const labels = d.tokens.map((t, i) => `${i}:${t}`);
  state.zoom = heatmap({
    rows: T, cols: T, testid: 'zoom',
    value: fp.value,
    color: (v, q, k) => colorFor(f, q, k, v),
    masked: (q, k) => k > q,
    rowLabels: labels, colLabels: d.tokens.map(String),
    rowTitle: 'destination (query)', colTitle: 'source (key)',
    maxWidth: 640,
    tooltip: (q, k, v) => {
      const lines = [['head', name], ['destination', `pos ${q} · token ${d.tokens[q]}`], ['source', `pos ${k} · token ${d.tokens[k]}`], ['attention', fmt(v, 4)]];
      if (f === MAX) { const [l, h] = fp.argmax(q, k); lines.push(['from head', `L${l}H${h}`]); }
      return lines;
    },
    onHover: (q) => { if (q !== null) setHoverPos(q); },
  });
  $('#zoom').replaceChildren(state.zoom.node);
}

function setHoverPos(p) {
  state.hoverPos = p;
  renderStrip();
}

function renderStrip() {
  const d = state.data, T = d.tokens.length;
  const mode = $('input[name="strip-mode"]:checked').value;
  const fp = focusPattern(state.focus);
  const p = state.hoverPos;
  const rgb = state.focus === MAX ? [60, 60, 60] : headColor(headIndex(state.focus.l, state.focus.h), nHeadsTotal());
  const chips = d.tokens.map((t, i) => {
    let v = null;
    if (p !== null) v = mode === 'pays' ? (i <= p ? fp.value(p, i) : null) : (i >= p ? fp.value(i, p) : null);
    const chip = el('span', {
      class: `chip${i === p ? ' current' : ''}${v === null && p !== null ? ' off' : ''}`,
      'data-pos': i,
      onmouseenter: (ev) => {
        setHoverPos(i);
        if (state.zoom) state.zoom.highlight(i, null);
        tooltip.show([['position', i], ['token', t]], ev.clientX, ev.clientY);
      },
      onmouseleave: () => tooltip.hide(),
    }, el('span', { class: 'chip-tok' }, String(t)), el('span', { class: 'chip-val' }, v === null ? '' : v.toFixed(2)));
    chip.dataset.bg = v === null ? '' : tint(rgb, Math.sqrt(v));
    return chip;
  });
  $('#strip').replaceChildren(...chips);
  for (const c of $$('#strip .chip')) if (c.dataset.bg) c.style.background = c.dataset.bg;
  $('#strip-help').textContent = p === null
    ? 'Hover a token (or a pattern row) to see where it looks on the focused head.'
    : (mode === 'pays'
      ? `Attention paid by position ${p} (token ${d.tokens[p]}) to each earlier position.`
      : `Attention received by position ${p} (token ${d.tokens[p]}) from each later position.`);
}

function renderPreds() {
  const d = state.data;
  $('#preds').replaceChildren(...d.predictions.map((pr, i) => {
    const next = d.tokens[i + 1];
    const ok = next !== undefined && pr.token === next;
    return el('span', { class: `chip pred${ok ? ' ok' : ''}`, title: `after position ${i}: token ${pr.token} with p = ${fmt(pr.prob, 3)}` },
      el('span', { class: 'chip-tok' }, String(pr.token)), el('span', { class: 'chip-val' }, pr.prob.toFixed(2)));
  }));
}

async function show(tokens) {
  await guard(async () => {
    const data = await api(`/api/models/${encodeURIComponent(state.model)}/attention`, { body: { tokens } });
    state.data = data;
    $('#tokens').value = data.tokens.join(' ');
    $('#grid').replaceChildren();
    renderGrid();
    const keep = state.focus && state.focus !== MAX && state.focus.l < data.n_layers && state.focus.h < data.n_heads;
    state.zoom = null;
    state.hoverPos = null;
    focus(keep ? state.focus : (state.focus === MAX ? MAX : strongestInduction()));
    renderPreds();
    document.body.dataset.ready = 'attention';
  });
}

async function random() {
  await guard(async () => {
    const seed = Number($('#seed').value) || 0;
    const repeat = $('#repeat').value;
    const q = new URLSearchParams({ seed: String(seed) });
    if (repeat) q.set('repeat', repeat);
    const r = await api(`/api/models/${encodeURIComponent(state.model)}/tokens/repeated?${q}`);
    $('#seq-info').textContent = `block of ${r.repeat} tokens at ${r.first} and again at ${r.second}`;
    await show(r.tokens);
  });
}

async function generate() {
  await guard(async () => {
    const tokens = parseTokens($('#tokens').value);
    const room = state.info.config.n_ctx - tokens.length;
    if (room <= 0) throw new Error(`the sequence already fills n_ctx = ${state.info.config.n_ctx}`);
    const r = await api(`/api/models/${encodeURIComponent(state.model)}/tokens/generate`, { body: { tokens, n: Math.min(room, 10) } });
    $('#seq-info').textContent = `${r.tokens.length - r.prompt} tokens added by greedy decoding`;
    await show(r.tokens);
  });
}

function init() {
  $('#lock-state').after(links);
  $('#run').addEventListener('click', () => guard(() => show(parseTokens($('#tokens').value))));
  $('#tokens').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') $('#run').click(); });
  $('#random').addEventListener('click', random);
  $('#generate').addEventListener('click', generate);
  for (const r of $$('input[name="strip-mode"]')) r.addEventListener('change', renderStrip);
  guard(() => modelPicker(async (name, info) => {
    state.model = name;
    state.info = info;
    const L = Math.floor(info.config.n_ctx / 2);
    $('#repeat').replaceChildren(el('option', { value: '' }, 'as in training'),
      ...[2, 3, 5, 8, 10, 15, 20].filter((n) => n <= L).map((n) => el('option', { value: String(n) }, `${n} tokens, no filler`)));
    await random();
  }));
}

init();
