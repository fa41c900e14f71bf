// The attention page: every head's pattern on a token sequence, a zoomed
// pattern with tooltips, a token strip, and a max-over-heads view.

import { $, $$, el, api, guard, modelPicker, parseTokens, headColor, tint, tintRGB, rgbCSS, fmt, fmtScore, SCORES, tooltip, figureLinks, promptBox, showPieces, tokenText, predText, visible, setURLInput, setURLState, urlInput, urlHead, describeInput } from './lib.js';
import { heatmap, withColorbar } from './heatmap.js';

const THUMB = 76; // thumbnail size, px
const MAX = 'max'; // the max-over-heads view's key
// Beyond this many attention weights (layers × heads × T(T+1)/2) the page
// asks for max-pooled thumbnails of every head and the full pattern of the
// focused one only: long prompts stay light.
const LONG_VALUES = 1 << 20;

const links = figureLinks('attention-links');

const state = {
  model: null, info: null, data: null,
  input: null,   // the last request's sequence: {tokens} or {prompt, bos}
  long: false,   // the data holds thumbnails and the focused pattern only
  prompt: null,  // the prompt box
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
  if (f === MAX && d.max_pattern) {
    const H = d.n_heads;
    return {
      value: (q, k) => (k <= q ? d.max_pattern[q][k] : 0),
      argmax: (q, k) => { const i = k <= q ? d.max_head[q][k] : 0; return [Math.floor(i / H), i % H]; },
    };
  }
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
  return rgbCSS(rgbFor(f, q, k, v));
}

function rgbFor(f, q, k, v, fp) {
  if (f === MAX) {
    const [l, h] = (fp || focusPattern(MAX)).argmax(q, k);
    return tintRGB(headRGB(headIndex(l, h)), Math.sqrt(v));
  }
  return tintRGB(headRGB(headIndex(f.l, f.h)), Math.sqrt(v));
}

// headRGB is headColor of head i, computed once per sequence.
function headRGB(i) {
  const d = state.data;
  if (!d.colors) d.colors = [];
  if (!d.colors[i]) d.colors[i] = headColor(i, nHeadsTotal());
  return d.colors[i];
}

// loaded reports whether the data holds focus f's full pattern.
function loaded(f) {
  const d = state.data;
  if (f === MAX) return !state.long || !!d.max_pattern;
  return d.patterns[f.l][f.h].length > 0;
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

// modelHead returns the model's own induction head, {l, h}, when the model
// list names one (the text demo's: the head of highest prefix-matching
// score on repeated random tokens), else null.
function modelHead() {
  const ih = state.info && state.info.induction_head;
  return ih ? { l: ih.layer, h: ih.head } : null;
}

// showAbout says what a text model is and offers its example lines as
// buttons; other models hide both.
function showAbout(info) {
  const ih = info.induction_head;
  $('#about').hidden = !info.about;
  $('#about').textContent = info.about
    ? `${info.about[0].toUpperCase()}${info.about.slice(1)}. Type a line in which a name occurs twice: its induction head${ih ? ` ${ih.label} (prefix-matching score ${fmtScore(ih.prefix_matching)} on repeated random tokens)` : ''} attends from the second occurrence of the name to the token after its first occurrence.`
    : '';
  const ex = info.examples || [];
  $('#examples').hidden = ex.length === 0;
  $('#examples').replaceChildren(...(ex.length ? [el('span', { class: 'muted small' }, 'examples:')] : []),
    ...ex.map((line, i) => el('button', {
      class: 'example', 'data-example': i, title: line,
      onclick: () => guard(() => show({ prompt: line, bos: $('#bos').value })),
    }, line)));
}

// drawThumb paints head f's pattern (or the max over heads) at most
// THUMB·dpr cells a side, each the maximum of its block, in one
// putImageData: from the server's thumbnails in long mode, else pooled
// here from the full patterns.
function drawThumb(canvas, f) {
  const d = state.data, T = d.tokens.length;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = THUMB * dpr;
  canvas.height = THUMB * dpr;
  canvas.style.width = `${THUMB}px`;
  canvas.style.height = `${THUMB}px`;
  let s, cell; // side and cell(i, j) → [value, l, h] or null when masked
  if (d.thumbnails) {
    s = d.thumbnail;
    const heads = [];
    for (let l = 0; l < d.n_layers; l++) for (let h = 0; h < d.n_heads; h++) heads.push([l, h, d.thumbnails[l][h]]);
    cell = (i, j) => {
      if (j > i) return null; // blocks wholly above the diagonal
      if (f !== MAX) return [d.thumbnails[f.l][f.h][i * s + j], f.l, f.h];
      let best = [-1, 0, 0];
      for (const [l, h, th] of heads) if (th[i * s + j] > best[0]) best = [th[i * s + j], l, h];
      return best;
    };
  } else {
    s = Math.min(T, THUMB * dpr);
    const fp = focusPattern(f);
    cell = (i, j) => {
      const q0 = Math.floor((i * T) / s), q1 = Math.floor(((i + 1) * T) / s);
      const k0 = Math.floor((j * T) / s), k1 = Math.floor(((j + 1) * T) / s);
      if (k0 > q1 - 1) return null;
      let best = -1, bq = q0, bk = k0;
      for (let q = q0; q < q1; q++) for (let k = k0; k < Math.min(k1, q + 1); k++) {
        const v = fp.value(q, k);
        if (v > best) { best = v; bq = q; bk = k; }
      }
      if (f !== MAX) return [best, f.l, f.h];
      const [l, h] = fp.argmax(bq, bk);
      return [best, l, h];
    };
  }
  const img = new ImageData(s, s);
  const px = img.data;
  const n = nHeadsTotal();
  for (let i = 0, k = 0; i < s; i++) {
    for (let j = 0; j < s; j++, k += 4) {
      const c = cell(i, j);
      const rgb = c === null ? [0xec, 0xec, 0xf0] : tintRGB(headColor(headIndex(c[1], c[2]), n), Math.sqrt(c[0]));
      px[k] = rgb[0]; px[k + 1] = rgb[1]; px[k + 2] = rgb[2]; px[k + 3] = 255;
    }
  }
  const off = document.createElement('canvas');
  off.width = s;
  off.height = s;
  off.getContext('2d').putImageData(img, 0, 0);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function renderGrid() {
  const d = state.data;
  const grid = $('#grid');
  const tiles = [];
  for (let l = 0; l < d.n_layers; l++) {
    const row = el('div', { class: 'head-row' }, el('div', { class: 'layer-label' }, `layer ${l}`));
    for (let h = 0; h < d.n_heads; h++) {
      const label = `L${l}H${h}`;
      const sc = state.long ? null : scores(d.patterns[l][h], d.tokens);
      const canvas = el('canvas', {});
      const tile = el('button', {
        class: 'thumb', 'data-head': label, title: state.long ? `${label}: click to show and lock` : `${label}: click to lock`,
        onmouseenter: () => { if (!state.locked && !state.long) focus({ l, h }); },
        onclick: () => toggleLock({ l, h }),
      }, canvas,
      el('span', { class: 'thumb-label' }, el('i', { class: 'dot', 'data-color': rgbCSS(headColor(headIndex(l, h), nHeadsTotal())) }), label),
      el('span', { class: 'thumb-score', 'data-prev': sc ? sc.prev : '', 'data-ind': sc && sc.ind !== null ? sc.ind : '', title: sc ? scoreTitle(label, sc) : '' },
        sc ? `prev ${fmtScore(sc.prev)} · pm ${fmtScore(sc.ind)}` : 'max-pooled · click'));
      drawThumb(canvas, { l, h });
      row.append(tile);
      tiles.push(tile);
    }
    grid.append(row);
  }
  const maxCanvas = el('canvas', {});
  const maxTile = el('button', {
    class: 'thumb', 'data-head': MAX, title: 'max over heads: each cell coloured by the head attending most',
    onmouseenter: () => { if (!state.locked && !state.long) focus(MAX); },
    onclick: () => toggleLock(MAX),
  }, maxCanvas, el('span', { class: 'thumb-label' }, 'max over heads'), el('span', { class: 'thumb-score' }, 'colour = argmax head'));
  drawThumb(maxCanvas, MAX);
  grid.prepend(el('div', { class: 'head-row' }, el('div', { class: 'layer-label' }, 'all'), maxTile));
  for (const i of $$('#grid i.dot')) i.style.background = i.dataset.color;
}

const sameFocus = (a, b) => a === b || (a && b && a !== MAX && b !== MAX && a.l === b.l && a.h === b.h);

// scoreTitle is a thumbnail's score tooltip: each score's definition and
// the data it was computed on (this input, not the circuits report's
// repeated random tokens).
function scoreTitle(label, sc) {
  return `${label}, on this input (${state.data.tokens.length} tokens):\n` +
    `prev = ${SCORES.prev.label} ${fmtScore(sc.prev)}: ${SCORES.prev.def}\n` +
    `pm = ${SCORES.ind.label} ${fmtScore(sc.ind)}: ${SCORES.ind.def}${sc.ind === null ? ' (no token repeats here)' : ''}\n` +
    'The Circuits page scores heads on repeated random tokens instead.';
}

const headKey = (f) => (f === MAX ? MAX : `L${f.l}H${f.h}`);

function toggleLock(f) {
  if (state.locked && sameFocus(state.focus, f)) {
    state.locked = false;
  } else {
    state.locked = true;
    focus(f);
  }
  setURLState({ head: state.locked ? headKey(state.focus) : null });
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
  if (!loaded(f)) {
    guard(() => loadHead(f));
    return;
  }
  state.focus = f;
  renderZoom();
  renderStrip();
  updateLockUI();
}

// loadHead fetches one head's full pattern (or the max over heads) of the
// current sequence in long mode, then focuses it.
async function loadHead(f) {
  const d = state.data;
  const label = f === MAX ? MAX : `L${f.l}H${f.h}`;
  const r = await api(`/api/models/${encodeURIComponent(state.model)}/attention`, { body: { tokens: d.tokens, heads: [label] } });
  if (state.data !== d) return; // another sequence since
  if (f === MAX) { d.max_pattern = r.max_pattern; d.max_head = r.max_head; } else d.patterns[f.l][f.h] = r.patterns[f.l][f.h];
  focus(f);
}

function renderZoom() {
  const d = state.data, f = state.focus, T = d.tokens.length;
  const fp = focusPattern(f);
  const name = f === MAX ? 'max over heads' : `L${f.l}H${f.h}`;
  $('#focus-title').textContent = `Pattern · ${name}`;
  links.set(`/api/models/${encodeURIComponent(state.model)}/figures/attention`,
    f === MAX ? { tokens: d.tokens.join(','), head: 'max' } : { tokens: d.tokens.join(','), layer: f.l, head: f.h });
  const text = d.tokens.map((t, i) => tokenText(d, i));
  const labels = text.map((t, i) => `${i}:${t}`);
  const tok = (i) => `pos ${i} · token ${d.tokens[i]}${d.pieces ? ` · "${visible(d.pieces[i])}"` : ''}`;
  const long = T > 200;
  state.zoom = heatmap({
    rows: T, cols: T, testid: 'zoom',
    value: fp.value,
    color: (v, q, k) => colorFor(f, q, k, v),
    rgb: (v, q, k) => rgbFor(f, q, k, v, fp),
    pixels: f === MAX ? null : (px) => headPixels(px, d.patterns[f.l][f.h], headRGB(headIndex(f.l, f.h))),
    masked: (q, k) => k > q,
    rowLabels: labels, colLabels: text,
    rowTitle: 'destination (query)', colTitle: 'source (key)',
    maxWidth: long ? 860 : 640, minCell: long ? 1 : 4,
    tooltip: (q, k, v) => {
      const lines = [['head', name], ['destination', tok(q)], ['source', tok(k)], ['attention', fmt(v, 4)]];
      if (f === MAX) { const [l, h] = fp.argmax(q, k); lines.push(['from head', `L${l}H${h}`]); }
      return lines;
    },
    onHover: (q) => { if (q !== null) setHoverPos(q); },
  });
  $('#zoom').classList.toggle('scroll', long);
  const rgb = f === MAX ? [60, 60, 60] : headRGB(headIndex(f.l, f.h));
  $('#zoom').replaceChildren(withColorbar(state.zoom, {
    lo: 0, hi: 1, color: (v) => tint(rgb, Math.sqrt(v)), width: 200,
    label: f === MAX ? 'attention (largest over heads; hue: that head)' : 'attention weight (shade ∝ √weight)',
    ticks: [0, 0.1, 0.25, 0.5, 1].map((v) => ({ v, label: String(v) })),
  }));
}

// headPixels fills an RGBA buffer T×T with one head's pattern: the fast
// path of a long sequence's zoom (no call per cell).
function headPixels(px, rows, rgb) {
  const T = rows.length;
  const [r0, g0, b0] = rgb;
  for (let q = 0, k4 = 0; q < T; q++) {
    const row = rows[q];
    for (let k = 0; k < T; k++, k4 += 4) {
      if (k > q) {
        px[k4] = 0xd9; px[k4 + 1] = 0xd9; px[k4 + 2] = 0xde;
      } else {
        const t = Math.sqrt(Math.min(1, Math.max(0, row[k])));
        px[k4] = 255 + (r0 - 255) * t; px[k4 + 1] = 255 + (g0 - 255) * t; px[k4 + 2] = 255 + (b0 - 255) * t;
      }
      px[k4 + 3] = 255;
    }
  }
}

function setHoverPos(p) {
  state.hoverPos = p;
  renderStrip();
}

// STRIP bounds the chips of the token strip and the predictions: longer
// sequences show a window of them around the hovered position.
const STRIP = 160;

// stripWindow returns the positions [a, b) the strip shows.
function stripWindow() {
  const T = state.data.tokens.length;
  if (T <= STRIP) return [0, T];
  const c = state.hoverPos === null ? 0 : state.hoverPos;
  const a = Math.max(0, Math.min(T - STRIP, c - STRIP / 2));
  return [a, a + STRIP];
}

function renderStrip() {
  const d = state.data, T = d.tokens.length;
  const mode = $('input[name="strip-mode"]:checked').value;
  const fp = focusPattern(state.focus);
  const p = state.hoverPos;
  const rgb = state.focus === MAX ? [60, 60, 60] : headColor(headIndex(state.focus.l, state.focus.h), nHeadsTotal());
  const [a, b] = stripWindow();
  if (state.predWindow !== a) renderPreds();
  const chips = d.tokens.slice(a, b).map((t, j) => {
    const i = a + j;
    let v = null;
    if (p !== null) v = mode === 'pays' ? (i <= p ? fp.value(p, i) : null) : (i >= p ? fp.value(i, p) : null);
    const chip = el('span', {
      class: `chip${i === p ? ' current' : ''}${v === null && p !== null ? ' off' : ''}`,
      'data-pos': i,
      onmouseenter: (ev) => {
        setHoverPos(i);
        if (state.zoom) state.zoom.highlight(i, null);
        tooltip.show([['position', i], ['token', d.pieces ? `${t} "${visible(d.pieces[i])}"` : t]], ev.clientX, ev.clientY);
      },
      onmouseleave: () => tooltip.hide(),
    }, el('span', { class: 'chip-tok' }, tokenText(d, i)), el('span', { class: 'chip-val' }, v === null ? '' : v.toFixed(2)));
    chip.dataset.bg = v === null ? '' : tint(rgb, Math.sqrt(v));
    return chip;
  });
  if (b - a < T) chips.unshift(el('span', { class: 'muted small' }, `positions ${a}–${b - 1} of ${T}:`));
  $('#strip').replaceChildren(...chips);
  for (const c of $$('#strip .chip')) if (c.dataset.bg) c.style.background = c.dataset.bg;
  $('#strip-help').textContent = p === null
    ? 'Hover a token (or a pattern row) to see where it looks on the focused head.'
    : (mode === 'pays'
      ? `Attention paid by position ${p} (token ${tokenText(d, p)}) to each earlier position.`
      : `Attention received by position ${p} (token ${tokenText(d, p)}) from each later position.`);
}

function renderPreds() {
  const d = state.data;
  const [a, b] = stripWindow();
  state.predWindow = a;
  $('#preds').replaceChildren(...d.predictions.slice(a, b).map((pr, j) => {
    const i = a + j;
    const next = d.tokens[i + 1];
    const ok = next !== undefined && pr.token === next;
    return el('span', { class: `chip pred${ok ? ' ok' : ''}`, title: `after position ${i}: token ${pr.token}${pr.text !== undefined ? ` "${visible(pr.text)}"` : ''} with p = ${fmt(pr.prob, 3)}` },
      el('span', { class: 'chip-tok' }, predText(pr)), el('span', { class: 'chip-val' }, pr.prob.toFixed(2)));
  }));
}

// isLong estimates whether a sequence needs long mode: a prompt has at
// most one token a byte (and a BOS).
function isLong(input) {
  const c = state.info.config;
  const T = input.tokens ? input.tokens.length : Math.min(c.n_ctx, new TextEncoder().encode(input.prompt).length + 1);
  return c.n_layers * c.n_heads * (T * (T + 1)) / 2 > LONG_VALUES;
}

// show runs the model on input ({tokens} or {prompt, bos}) and renders
// every view; body.dataset.paintMs is the time from the request to the
// first frame painted with the result.
async function show(input, how) {
  if (Array.isArray(input)) input = { tokens: input };
  await guard(async () => {
    const t0 = performance.now();
    const long = isLong(input);
    const keepFocus = state.focus && (state.focus === MAX || (state.focus.l < state.info.config.n_layers && state.focus.h < state.info.config.n_heads));
    const body = { ...input };
    if (body.bos === undefined) delete body.bos;
    if (long) {
      const f = keepFocus ? state.focus : { l: state.info.config.n_layers - 1, h: 0 };
      body.heads = [f === MAX ? MAX : `L${f.l}H${f.h}`];
      body.thumbnail = Math.min(256, THUMB * Math.ceil(window.devicePixelRatio || 1));
    }
    const data = await api(`/api/models/${encodeURIComponent(state.model)}/attention`, { body });
    const t1 = performance.now();
    state.data = data;
    state.long = long;
    state.input = input;
    $('#tokens').value = data.tokens.join(' ');
    if (input.prompt !== undefined) $('#prompt').value = input.prompt;
    setURLInput(input);
    $('#seq-info').textContent = describeInput(input, data.tokens.length, how);
    showPieces(data, state.prompt.bosID);
    $('#grid').replaceChildren();
    renderGrid();
    state.zoom = null;
    state.hoverPos = null;
    state.predWindow = null;
    let f;
    const asked = state.askedHead;
    state.askedHead = null;
    if (asked && (asked === MAX || (asked.l < data.n_layers && asked.h < data.n_heads))) {
      f = asked;
      state.locked = true;
    } else if (long) f = keepFocus ? state.focus : { l: data.n_layers - 1, h: 0 };
    else f = keepFocus ? state.focus : (modelHead() || strongestInduction());
    state.focus = null;
    focus(f);
    renderPreds();
    document.body.dataset.ready = 'attention';
    document.body.dataset.tokens = String(data.tokens.length);
    const t2 = performance.now();
    requestAnimationFrame(() => {
      const t3 = performance.now();
      Object.assign(document.body.dataset, { fetchMs: String(Math.round(t1 - t0)), renderMs: String(Math.round(t2 - t1)), paintMs: String(Math.round(t3 - t0)) });
    });
  });
}

async function random() {
  await guard(async () => {
    const seed = Number($('#seed').value) || 0;
    const repeat = $('#repeat').value;
    const q = new URLSearchParams({ seed: String(seed) });
    if (repeat) q.set('repeat', repeat);
    const r = await api(`/api/models/${encodeURIComponent(state.model)}/tokens/repeated?${q}`);
    await show(r.tokens, `random example (seed ${seed}): a block of ${r.repeat} tokens at position ${r.first} and again at ${r.second}, as in training`);
  });
}

async function generate() {
  await guard(async () => {
    const tokens = parseTokens($('#tokens').value);
    const room = state.info.config.n_ctx - tokens.length;
    if (room <= 0) throw new Error(`the sequence already fills n_ctx = ${state.info.config.n_ctx}`);
    const r = await api(`/api/models/${encodeURIComponent(state.model)}/tokens/generate`, { body: { tokens, n: Math.min(room, 10) } });
    await show(r.tokens, `your ${tokens.length} tokens and ${r.tokens.length - r.prompt} more by greedy decoding`);
  });
}

// continueExample shows what the model does: a random block as in
// training, then its repeat cut after a few tokens, which the model
// completes from the first copy by greedy decoding.
async function continueExample() {
  await guard(async () => {
    const seed = Number($('#seed').value) || 0;
    const m = encodeURIComponent(state.model);
    const r = await api(`/api/models/${m}/tokens/repeated?seed=${seed}`);
    const keep = r.second + Math.min(3, r.repeat - 1);
    const prompt = r.tokens.slice(0, keep);
    const g = await api(`/api/models/${m}/tokens/generate`, { body: { tokens: prompt, n: r.tokens.length - keep } });
    const want = r.tokens.slice(keep);
    const got = g.tokens.slice(keep);
    const right = got.filter((t, i) => t === want[i]).length;
    await show(g.tokens, `example (seed ${seed}): a block of ${r.repeat} tokens at ${r.first}, its repeat cut after ${keep - r.second} tokens at ${keep}; the model continued the last ${got.length} and got ${right} of ${want.length} right`);
    document.body.dataset.continued = `${right}/${want.length}`;
  });
}

function init() {
  state.prompt = promptBox((input) => { $('#seq-info').textContent = ''; show(input); });
  $('#lock-state').after(links);
  $('#run').addEventListener('click', () => guard(() => show(parseTokens($('#tokens').value))));
  $('#tokens').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') $('#run').click(); });
  $('#random').addEventListener('click', random);
  $('#generate').addEventListener('click', generate);
  $('#continue-example').addEventListener('click', continueExample);
  for (const r of $$('input[name="strip-mode"]')) r.addEventListener('change', renderStrip);
  guard(() => modelPicker(async (name, info) => {
    state.model = name;
    state.info = info;
    state.prompt.setModel(info);
    const L = Math.floor(info.config.n_ctx / 2);
    $('#repeat').replaceChildren(el('option', { value: '' }, 'as in training'),
      ...[2, 3, 5, 8, 10, 15, 20].filter((n) => n <= L).map((n) => el('option', { value: String(n) }, `${n} tokens, no filler`)));
    $('#trained-on').textContent = info.trained_on
      ? `This model was trained on ${info.trained_on}. Inputs of that kind show what it does: a random example, or a repeat cut short for it to continue. On other inputs (a block shorter than it saw, tokens that repeat within a block) it has little to go on.`
      : '';
    showAbout(info);
    if (modelHead()) state.focus = modelHead();
    const input = urlInput();
    state.askedHead = urlHead();
    if (input) await show(input);
    else if (info.examples && info.examples.length) await show({ prompt: info.examples[0], bos: $('#bos').value });
    else await random();
  }));
}

init();
