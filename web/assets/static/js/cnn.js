// The CNN page: an image (embedded sample or test-set index), the class
// probabilities with and without unit ablations, the feature maps at a hook
// point (click a channel to ablate it), saliency and integrated gradients,
// BatchNorm batch-vs-running statistics, activation maximisation (Fourier
// parameterisation, transformation robustness), a unit gallery per layer
// and each unit's top-activating examples with their activation maps.

import { $, el, api, guard, fmt, figureLinks } from './lib.js';
import { LineChart } from './chart.js';
import { paint, greyScale, symmetricScale, heatScale, colourBar, readout, clearTips } from './vis.js';

const enc = encodeURIComponent;
const state = {
  model: null,
  info: null,
  samples: null,
  image: { sample: 0 }, // the request's image: {sample: i} or {test: i}
  ablate: new Map(), // hook point → Set of units
  point: null,
  run: null, // the last /run response
  bn: null, // the last /batchnorm response
  runs: 0,
};
const links = {
  features: figureLinks('features-links'),
  attribution: figureLinks('attribution-links'),
  batchnorm: figureLinks('bn-links'),
  maximize: figureLinks('max-links'),
};
let bnMean, bnVar, maxChart;

const base = () => `/api/cnn/models/${enc(state.model)}`;

// ---- request pieces ----

function ablateBody() {
  const out = {};
  for (const [p, units] of state.ablate) if (units.size) out[p] = [...units].sort((a, b) => a - b);
  return out;
}

function editBody() {
  return { ablate: ablateBody(), mode: $('#mode').value };
}

function imageQuery() {
  return state.image.sample !== undefined ? `sample:${state.image.sample}` : `test:${state.image.test}`;
}

function ablateQuery() {
  return Object.entries(ablateBody()).map(([p, us]) => `${p}:${us.join(',')}`).join(';');
}

function figureQuery(extra) {
  const q = { image: imageQuery(), mode: $('#mode').value, ...extra };
  const a = ablateQuery();
  if (a) q.ablate = a;
  return q;
}

// ---- canvases ----

const grey = greyScale;
const symmetric = symmetricScale;

function absMax(vals) {
  let m = 0;
  for (const v of vals) m = Math.max(m, Math.abs(v));
  return m;
}

// ---- the panels ----

function imageSize() {
  const c = state.info.config;
  return [c.in_height, c.in_width];
}

function drawInput(r) {
  const [h, w] = imageSize();
  paint($('#input'), r.image.pixels, h, w, grey(0, 1));
  $('#input-label').textContent = r.image.label >= 0 ? `${r.image.source} · label ${r.image.label_name}` : r.image.source;
}

function drawProbs(r) {
  const rows = r.classes.map((name, i) => {
    const p = r.probs[i], c = r.clean_probs[i];
    const cleanBar = el('div', { class: 'prob-clean' }), editBar = el('div', { class: 'prob-edit' });
    cleanBar.style.width = `${(100 * c).toFixed(2)}%`; // CSSOM: inline style attributes break the CSP
    editBar.style.width = `${(100 * p).toFixed(2)}%`;
    const bar = el('div', { class: 'prob-bar' }, cleanBar, editBar);
    const cls = ['prob-row'];
    if (i === r.pred) cls.push('pred');
    if (i === r.image.label) cls.push('truth');
    return el('div', { class: cls.join(' '), dataset: { class: i, p, clean: c } },
      el('span', { class: 'prob-name' }, name, i === r.image.label ? ' ✓' : ''), bar,
      el('span', { class: 'prob-val' }, fmt(p, 3), r.edited && Math.abs(p - c) >= 5e-4 ? el('span', { class: 'muted' }, ` (${fmt(c, 3)})`) : ''));
  });
  $('#probs').replaceChildren(...rows);
  const pred = `${r.classes[r.pred]} ${fmt(r.probs[r.pred], 3)}`;
  $('#pred').textContent = r.edited && r.pred !== r.clean_pred ? `predicted ${pred} (was ${r.classes[r.clean_pred]})` : `predicted ${pred}`;
  const parts = [...state.ablate].filter(([, u]) => u.size).map(([p, u]) => `${p} [${[...u].sort((a, b) => a - b).join(', ')}]`);
  $('#ablated').textContent = parts.length ? `${$('#mode').value}-ablated: ${parts.join('; ')} — light bars show the unablated run` : 'no ablation';
}

function drawMaps(r) {
  clearTips();
  const fm = r.point;
  const shape = fm.shape;
  const h = shape.length === 3 ? shape[1] : 1, w = shape.length === 3 ? shape[2] : 1;
  const scale = Math.max(3, Math.floor(84 / Math.max(h, w)));
  const per = $('#per-channel').checked;
  const ablated = state.ablate.get(fm.name) || new Set();
  const tiles = fm.maps.map((vals, ch) => {
    let lo = fm.lo, hi = fm.hi;
    if (per) { lo = Math.min(...vals); hi = Math.max(...vals); }
    const rgb = lo < 0 ? symmetric(Math.max(-lo, hi)) : grey(Math.min(0, lo), hi);
    const canvas = el('canvas', { class: 'pix' });
    paint(canvas, vals, h, w, rgb);
    readout(canvas, vals, h, w, (y, x, v) => [[`${fm.name} c${ch}`, ''], [`(${y}, ${x})`, fmt(v, 4)]]);
    canvas.style.width = `${w * scale}px`;
    canvas.style.height = `${h * scale}px`;
    const tile = el('button', {
      class: `fmap${ablated.has(ch) ? ' ablated' : ''}`, title: `channel ${ch}: mean ${fmt(fm.means[ch], 4)} — click to ${ablated.has(ch) ? 'restore' : 'ablate'}`,
      dataset: { ch }, 'data-testid': `fmap-${ch}`,
      onclick: () => toggle(fm.name, ch),
    }, canvas, el('span', { class: 'fmap-label' }, `c${ch}`, el('span', { class: 'muted' }, ` ${fmt(fm.means[ch], 2)}`)));
    return tile;
  });
  $('#fmaps').replaceChildren(...tiles);
  $('#fm-range').textContent = `[${shape.join(', ')}] · values ${fmt(fm.lo, 3)} to ${fmt(fm.hi, 3)}`;
  const barScale = fm.lo < 0 ? symmetric(Math.max(-fm.lo, fm.hi)) : grey(Math.min(0, fm.lo), fm.hi);
  $('#fm-bar').replaceChildren(colourBar(barScale, { testid: 'fm-bar', label: per ? 'all channels (each tile scaled to its own range)' : 'activation, all channels' }));
  links.features.set(`${base()}/figures/features`, figureQuery({ point: fm.name }));
}

function toggle(point, ch) {
  if (!state.ablate.has(point)) state.ablate.set(point, new Set());
  const s = state.ablate.get(point);
  if (s.has(ch)) s.delete(ch); else s.add(ch);
  refresh();
}

async function run() {
  const body = { image: state.image, point: state.point, ...editBody() };
  const r = await api(`${base()}/run`, { body });
  state.run = r;
  drawInput(r);
  drawProbs(r);
  drawMaps(r);
}

async function attribution() {
  const body = { image: state.image, steps: Number($('#steps').value) || 64, baseline: $('#baseline').value, ...editBody() };
  if ($('#class').value !== 'pred') body.class = Number($('#class').value);
  const r = await api(`${base()}/attribution`, { body });
  const [h, w] = imageSize();
  clearTips();
  for (const [id, vals, what] of [['saliency', r.saliency, '∂logit/∂x'], ['ig', r.ig, 'IG']]) {
    const sc = symmetric(absMax(vals));
    const c = $(`#${id}`).cloneNode(); // a fresh canvas drops the old read-out listeners
    $(`#${id}`).replaceWith(c);
    paint(c, vals, h, w, sc);
    readout(c, vals, h, w, (y, x, v) => [[`${what} (${y}, ${x})`, fmt(v, 3)]]);
    $(`#${id}-bar`).replaceChildren(colourBar(sc, { testid: `${id}-bar`, label: `${what} of ${r.class_name}` }));
  }
  const diff = r.logit - r.baseline_logit;
  const p = $('#completeness');
  p.replaceChildren(
    el('div', {}, el('b', {}, r.class_name), ` logit ${fmt(r.logit, 3)}, ${r.baseline} baseline ${fmt(r.baseline_logit, 3)}`),
    el('div', {}, `Σ IG = ${fmt(r.ig_sum, 4)} against f(x) − f(x′) = ${fmt(diff, 4)}`),
    el('div', {}, `completeness error ${fmt(r.completeness_error, 4)} (${r.steps} steps)`));
  p.dataset.error = r.completeness_error;
  p.dataset.diff = diff;
  const q = figureQuery({ steps: body.steps, baseline: body.baseline });
  if (body.class !== undefined) q.class = body.class;
  links.attribution.set(`${base()}/figures/attribution`, q);
}

async function batchnorm() {
  if (!state.info.batchnorm || !state.info.batchnorm.length) return;
  const body = { train: $('#bn-train').checked, ...editBody() };
  if ($('#bn-batch').value === 'image') {
    if (state.image.sample !== undefined) body.samples = [state.image.sample];
    else body.test = [state.image.test];
  }
  state.bn = await api(`${base()}/batchnorm`, { body });
  drawBN();
}

function drawBN() {
  const r = state.bn;
  if (!r) return;
  const l = r.layers.find((x) => x.layer === $('#bn-layer').value) || r.layers[0];
  const pts = (vals) => vals.map((v, i) => [i, v]);
  bnMean.setData({ series: [{ name: `batch mean (${r.images} image${r.images > 1 ? 's' : ''})`, points: pts(l.batch_mean) }, { name: 'running mean', points: pts(l.running_mean), dash: true }] });
  bnVar.setData({ series: [{ name: 'batch variance', points: pts(l.batch_var) }, { name: 'running variance', points: pts(l.running_var), dash: true }] });
  const n = l.batch_mean.length;
  let dm = 0, nm = 0, nv = 0;
  for (let i = 0; i < n; i++) {
    dm += Math.abs(l.batch_mean[i] - l.running_mean[i]) / Math.sqrt(l.running_var[i] + 1e-5);
    nm += l.norm_mean[i];
    nv += l.norm_var[i];
  }
  $('#bn-summary').textContent = `${l.layer} normalises ${l.input} · mean |batch − running| mean ${fmt(dm / n, 3)} running σ · x̂ in ${r.train ? 'training' : 'evaluation'}: mean ${fmt(nm / n, 3)}, variance ${fmt(nv / n, 3)}`;
  links.batchnorm.set(`${base()}/figures/batchnorm`, { layer: l.layer, stat: 'mean', train: r.train ? 1 : 0 });
}

async function maximize() {
  await guard(async () => {
    const unit = Number($('#max-unit').value);
    const steps = Number($('#max-steps').value) || 128;
    $('#max-status').textContent = 'optimising…';
    let r;
    try {
      const tv = Number($('#max-tv').value);
      const body = { point: state.point, unit, steps, param: $('#max-param').value, tv: Number.isFinite(tv) ? tv : 0, ...editBody() };
      r = await api(`${base()}/maximize`, { body });
    } finally {
      $('#max-status').textContent = '';
    }
    clearTips();
    const sc = grey(0, 1);
    paint($('#max-start'), r.start, r.shape[1], r.shape[2], sc);
    paint($('#max-image'), r.image, r.shape[1], r.shape[2], sc);
    $('#max-bar').replaceChildren(colourBar(sc, { testid: 'max-bar', label: 'pixel value' }));
    maxChart.setData({ series: [
      { name: `${r.point} unit ${r.unit}`, points: r.trace.map((v, i) => [i, v]) },
      { name: 'objective (with penalties)', points: r.objective.map((v, i) => [i, v]), dash: true },
    ] });
    const first = r.trace[0], last = r.trace[r.trace.length - 1];
    $('#max-status').textContent = `activation ${fmt(first, 3)} → ${fmt(last, 3)}${last === 0 && first === 0 ? ' (the unit never fires here: a dead unit)' : ''}`;
    $('#max-setup').textContent = r.setup;
    links.maximize.set(`${base()}/figures/maximize`, { point: r.point, unit: r.unit, steps, tv: $('#max-tv').value });
    document.body.dataset.maximized = `${r.point}:${r.unit}`;
    document.body.dataset.maxRise = last - first;
  });
}

// gallery shows every unit of the hook point (64 at most) optimised with
// the page's setup, computed once per layer on the server.
async function gallery() {
  await guard(async () => {
    const point = state.point;
    $('#gal-status').textContent = 'optimising every unit (cached after the first time)…';
    let r;
    try {
      r = await api(`${base()}/gallery`, { body: { point } });
    } finally {
      $('#gal-status').textContent = '';
    }
    const [, h, w] = r.shape;
    const sc = grey(0, 1);
    const tiles = r.entries.map((e) => {
      const c = el('canvas', { class: 'pix' });
      paint(c, e.image, h, w, sc);
      return el('button', { class: 'gal-unit', 'data-testid': `gal-${e.unit}`, title: `unit ${e.unit}: activation ${fmt(e.start, 3)} at the random start → ${fmt(e.final, 3)} — click for its top examples`,
        onclick: () => { $('#max-unit').value = e.unit; top(); } },
      c, el('span', { class: 'fmap-label' }, `u${e.unit}`, el('span', { class: 'muted' }, ` ${fmt(e.final, 2)}`)));
    });
    $('#gallery').replaceChildren(...tiles);
    $('#gal-summary').textContent = `${r.point}: units ${r.from}–${r.from + r.entries.length - 1} of ${r.units} · ${r.setup}`;
    document.body.dataset.gallery = `${r.point}:${r.entries.length}`;
  });
}

// top shows the data set's images that excite the unit most, each with
// the unit's activation map on one colour scale.
async function top() {
  await guard(async () => {
    const unit = Number($('#max-unit').value);
    const r = await api(`${base()}/top`, { body: { point: state.point, unit, k: 9 } });
    clearTips();
    const [h, w] = imageSize();
    const [mh, mw] = r.map_shape;
    const sc = r.lo < 0 ? symmetric(Math.max(-r.lo, r.hi)) : heatScale(Math.min(0, r.lo), r.hi);
    const ex = r.examples.map((e, k) => {
      const img = el('canvas', { class: 'pix' }), map = el('canvas', { class: 'pix' });
      paint(img, e.pixels, h, w, grey(0, 1));
      paint(map, e.map, mh, mw, sc);
      readout(map, e.map, mh, mw, (y, x, v) => [[`${r.point} u${r.unit} (${y}, ${x})`, fmt(v, 3)]]);
      return el('div', { class: 'top-ex', 'data-testid': `top-${k}` }, el('div', { class: 'top-pair' }, img, map),
        el('span', { class: 'small' }, `${e.label_name} · ${fmt(e.activation, 3)}`), el('span', { class: 'muted tiny' }, e.source));
    });
    $('#top').replaceChildren(...ex);
    $('#top-bar').replaceChildren(colourBar(sc, { testid: 'top-bar', label: `${r.point} unit ${r.unit} activation` }));
    $('#top-summary').textContent = `unit ${r.unit} of ${r.point}: the ${r.examples.length} images of ${r.dataset} with the largest mean activation, each beside the unit's activation map`;
    document.body.dataset.top = `${r.point}:${r.unit}`;
  });
}

// refresh reruns every panel for the current image, point and ablations.
async function refresh() {
  await guard(async () => {
    $('#status').textContent = 'running…';
    try {
      await run();
      await attribution();
      await batchnorm();
    } finally {
      $('#status').textContent = '';
    }
    state.runs++;
    document.body.dataset.runs = state.runs;
    document.body.dataset.ready = 'cnn';
  });
}

// ---- set-up ----

function selectSample(i) {
  state.image = { sample: i };
  $('#sample').value = String(i);
  for (const c of document.querySelectorAll('#samples canvas')) c.classList.toggle('sel', Number(c.dataset.i) === i);
  refresh();
}

async function loadSamples() {
  const s = await api('/api/cnn/samples');
  state.samples = s;
  $('#sample').replaceChildren(...s.samples.map((x, i) => el('option', { value: i }, `${i}: ${x.label_name} (test ${x.test_index})`)));
  const thumbs = s.samples.map((x, i) => {
    const c = el('canvas', { class: 'pix thumb-img', title: `sample ${i}: ${x.label_name}`, dataset: { i }, onclick: () => selectSample(i) });
    paint(c, x.pixels, s.height, s.width, grey(0, 255));
    return c;
  });
  $('#samples').replaceChildren(...thumbs);
  $('#test-index').disabled = !s.test_available;
  $('#load-test').disabled = !s.test_available;
  if (!s.test_available) $('#test-index').title = 'install Debian\'s dataset-fashion-mnist for the 10,000 test images';
}

async function loadModel(name) {
  state.model = name;
  const u = new URL(location.href);
  u.searchParams.set('model', name);
  history.replaceState(null, '', u);
  const info = await api(base());
  state.info = info;
  state.ablate = new Map();
  const points = info.points.map((p) => p.name);
  state.point = points.includes('conv1.hook_out') ? 'conv1.hook_out' : points[1];
  $('#point').replaceChildren(...info.points.map((p) => el('option', { value: p.name, selected: p.name === state.point }, `${p.name} [${p.shape.join('×')}]`)));
  $('#class').replaceChildren(el('option', { value: 'pred' }, 'predicted'), ...info.classes.map((c, i) => el('option', { value: i }, `${i}: ${c}`)));
  $('#bn-layer').replaceChildren(...(info.batchnorm || []).map((l) => el('option', { value: l }, l)));
  if (!info.samples_fit) {
    throw new Error(`CNN ${name} does not take 28×28 grey images: the embedded samples do not fit it`);
  }
  await refresh();
}

async function init() {
  $('#fm-range').after(links.features);
  $('#baseline').parentNode.after(links.attribution);
  $('#bn-summary').before(links.batchnorm);
  $('#max-status').after(links.maximize);
  bnMean = new LineChart($('#bn-mean'), { title: 'per-channel mean of the input', xLabel: 'channel', yLabel: 'mean', testid: 'bn-mean', width: Math.min(560, window.innerWidth - 60) });
  bnVar = new LineChart($('#bn-var'), { title: 'per-channel variance of the input', xLabel: 'channel', yLabel: 'variance', testid: 'bn-var', width: Math.min(560, window.innerWidth - 60) });
  maxChart = new LineChart($('#max-chart'), { title: 'unit activation while optimising', xLabel: 'step', yLabel: 'activation', testid: 'max-trace', width: Math.min(560, window.innerWidth - 60), height: 220 });

  $('#sample').addEventListener('change', () => selectSample(Number($('#sample').value)));
  $('#load-test').addEventListener('click', () => {
    state.image = { test: Number($('#test-index').value) };
    for (const c of document.querySelectorAll('#samples canvas')) c.classList.remove('sel');
    refresh();
  });
  $('#mode').addEventListener('change', refresh);
  $('#clear').addEventListener('click', () => { state.ablate = new Map(); refresh(); });
  $('#point').addEventListener('change', () => { state.point = $('#point').value; guard(run); });
  $('#gal-run').addEventListener('click', gallery);
  $('#top-run').addEventListener('click', top);
  $('#per-channel').addEventListener('change', () => state.run && drawMaps(state.run));
  for (const id of ['#class', '#steps', '#baseline']) $(id).addEventListener('change', () => guard(attribution));
  $('#bn-layer').addEventListener('change', drawBN);
  for (const id of ['#bn-batch', '#bn-train']) $(id).addEventListener('change', () => guard(batchnorm));
  $('#max-run').addEventListener('click', maximize);

  await guard(async () => {
    const [models] = await Promise.all([api('/api/cnn/models'), loadSamples()]);
    const want = new URLSearchParams(location.search).get('model');
    const name = models.some((m) => m.name === want) ? want : 'demo';
    const sel = $('#model');
    sel.replaceChildren(...models.map((m) => el('option', { value: m.name, selected: m.name === name },
      m.source === 'demo' ? `${m.name} (embedded classifier)` : m.name)));
    sel.addEventListener('change', () => guard(() => loadModel(sel.value)));
    $('#samples canvas').classList.add('sel');
    await loadModel(name);
  });
}

init();
