// The GAN page: a sample grid judged by the classifier, linear and
// spherical latent walks between two chosen samples, generator units to
// ablate (with the grid before and after), and a dissection of the units:
// each unit's IoU with class and region concepts, its activation maps over
// the samples, units ranked per concept.

import { $, el, api, guard, fmt, figureLinks } from './lib.js';
import { LineChart } from './chart.js';
import { paint, heatScale, colourBar, readout, clearTips } from './vis.js';

const enc = encodeURIComponent;
const state = { model: null, info: null, ends: [0, 1], next: 0, ablate: new Map(), samples: 0, dissect: null, unit: null };
const links = { samples: figureLinks('samples-links'), linear: figureLinks('walk-linear-links'), spherical: figureLinks('walk-spherical-links') };
let normChart, distChart;

const base = () => `/api/gan/models/${enc(state.model)}`;
const seed = () => Number($('#seed').value) || 0;

// tile draws one image [H·W] in [0, 1] on a canvas scaled by CSS.
function tile(pixels, h, w) {
  const c = el('canvas', { class: 'pix' });
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const g = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
    img.data.set([g, g, g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

function ablateBody() {
  const out = {};
  for (const [p, us] of state.ablate) if (us.size) out[p] = [...us].sort((a, b) => a - b);
  return out;
}

async function samples() {
  const n = Number($('#n').value);
  const r = await api(`${base()}/samples`, { body: { seed: seed(), n, ablate: ablateBody() } });
  const [, h, w] = r.shape;
  const cells = r.images.map((im, i) => {
    const end = state.ends.indexOf(i);
    return el('button', {
      class: `gan-cell${end >= 0 ? ' end' : ''}`, 'data-testid': `sample-${i}`, dataset: { i, cls: r.classes[i] },
      title: `sample ${i}: ${r.names[r.classes[i]]} (p ${fmt(r.prob[i], 2)}), D(x) ${fmt(r.d[i], 2)}`,
      onclick: () => pick(i),
    }, tile(im, h, w), el('span', { class: 'gan-label' }, end >= 0 ? el('b', {}, 'AB'[end], ' ') : '', r.names[r.classes[i]]),
    el('span', { class: 'gan-d muted' }, `D ${fmt(r.d[i], 2)}`));
  });
  $('#grid').replaceChildren(...cells);
  drawBeforeAfter(r);
  const counts = r.counts.map((c, k) => [c, r.names[k]]).filter(([c]) => c > 0).sort((a, b) => b[0] - a[0]);
  $('#counts').textContent = `classes: ${counts.map(([c, name]) => `${name} ${c}`).join(', ')} · ${counts.length} of 10 covered`;
  links.samples.set(`${base()}/figures/samples`, { seed: seed(), n });
  state.samples++;
  document.body.dataset.samples = state.samples;
  document.body.dataset.counts = JSON.stringify(r.counts);
}

// drawBeforeAfter shows the unablated grid beside the ablated one, and
// the banner that says an ablation is active.
function drawBeforeAfter(r) {
  const parts = [...state.ablate].filter(([, u]) => u.size).map(([q, u]) => `${q} [${[...u].sort((a, b) => a - b).join(', ')}]`);
  const banner = $('#ablation-banner');
  banner.hidden = !r.before;
  $('#banner-text').textContent = r.before ? `Ablation active: ${parts.join('; ')} zeroed — every sample on this page is generated with it.` : '';
  document.body.classList.toggle('ablating', !!r.before);
  const panel = $('#beforeafter');
  panel.hidden = !r.before;
  if (!r.before) return;
  const [, h, w] = r.shape;
  const grid = (v, names) => v.images.slice(0, 16).map((im, i) => el('div', { class: 'walk-step' }, tile(im, h, w), el('span', { class: 'gan-label' }, names[v.classes[i]])));
  $('#before-grid').replaceChildren(...grid(r.before, r.names));
  $('#after-grid').replaceChildren(...grid(r, r.names));
  const diff = r.names.map((name, k) => [name, r.before.counts[k], r.counts[k]]).filter(([, a, b]) => a !== b);
  $('#ba-counts').textContent = diff.length ? `class counts before → after: ${diff.map(([n, a, b]) => `${n} ${a} → ${b}`).join(', ')}` : 'class counts unchanged';
}

async function walks() {
  const steps = Number($('#steps').value) || 10;
  const [from, to] = state.ends;
  $('#ends').textContent = `A = sample ${from}, B = sample ${to}`;
  const names = state.info.classes;
  const series = { norm: [], dist: [] };
  for (const spherical of [false, true]) {
    const r = await api(`${base()}/walk`, { body: { seed: seed(), from, to, steps, spherical } });
    const [, h, w] = r.shape;
    const id = spherical ? 'spherical' : 'linear';
    $(`#walk-${id}`).replaceChildren(...r.images.map((im, s) => el('div', { class: 'walk-step' },
      tile(im, h, w), el('span', { class: 'gan-label' }, names[r.classes[s]]), el('span', { class: 'gan-d muted' }, `‖z‖ ${fmt(r.z_norm[s], 2)}`))));
    series.norm.push({ name: id, points: r.z_norm.map((v, s) => [s / (steps - 1), v]) });
    series.dist.push({ name: id, points: r.step_distance.map((v, s) => [(s + 0.5) / (steps - 1), v]) });
    links[id].set(`${base()}/figures/walk`, { seed: seed(), from, to, steps, spherical: spherical ? 1 : 0 });
  }
  normChart.setData({ series: series.norm });
  distChart.setData({ series: series.dist });
  document.body.dataset.walk = `${from}-${to}`;
}

function pick(i) {
  state.ends[state.next] = i;
  state.next = 1 - state.next;
  guard(async () => { await samples(); await walks(); });
}

function drawUnits() {
  const p = $('#point').value;
  const info = state.info.points.find((x) => x.name === p);
  const set = state.ablate.get(p) || new Set();
  $('#units').replaceChildren(...Array.from({ length: info.shape[0] }, (_, u) => el('button', {
    class: `unit${set.has(u) ? ' ablated' : ''}`, 'data-testid': `unit-${u}`,
    onclick: () => {
      if (!state.ablate.has(p)) state.ablate.set(p, new Set());
      const s = state.ablate.get(p);
      if (s.has(u)) s.delete(u); else s.add(u);
      drawUnits();
      guard(samples);
    },
  }, String(u))));
  const parts = [...state.ablate].filter(([, u]) => u.size).map(([q, u]) => `${q} [${[...u].sort((a, b) => a - b).join(', ')}]`);
  $('#ablated').textContent = parts.length ? `ablated: ${parts.join('; ')}` : '';
}

// dissect loads the IoU of every unit with every concept on the grid's
// samples and ranks the units for the chosen concept.
async function dissect() {
  const n = Number($('#n').value);
  const r = await api(`${base()}/dissect`, { body: { seed: seed(), n } });
  state.dissect = r;
  const sel = $('#concept');
  const keep = sel.value;
  sel.replaceChildren(...r.concepts.map((c, i) => el('option', { value: i, selected: String(i) === keep }, i < 10 ? `class: ${c}` : `region: ${c}`)));
  drawRanking();
}

function drawRanking() {
  const r = state.dissect;
  if (!r) return;
  clearTips();
  const c = Number($('#concept').value) || 0;
  const order = r.iou.map((row, u) => [u, row[c]]).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1e-9, ...order.map(([, v]) => v));
  const ablated = state.ablate.get(r.point) || new Set();
  $('#ranking').replaceChildren(...order.map(([u, v], k) => {
    const bar = el('div', { class: 'iou-fill' });
    bar.style.width = `${(100 * v / max).toFixed(1)}%`;
    return el('button', { class: `rank-row${u === state.unit ? ' sel' : ''}${ablated.has(u) ? ' ablated' : ''}`, 'data-testid': `rank-${k}`, dataset: { unit: u, iou: v },
      title: `unit ${u}: IoU ${fmt(v, 3)} with ${r.concepts[c]}; its best concept is ${r.best[u].concept} (${fmt(r.best[u].iou, 3)})`,
      onclick: () => guard(() => unitMaps(u)) },
    el('span', { class: 'rank-unit' }, `u${u}`), el('div', { class: 'iou-bar' }, bar), el('span', { class: 'rank-val' }, fmt(v, 3)),
    el('span', { class: 'muted tiny' }, `best: ${r.best[u].concept}`));
  }));
  $('#dissect-summary').textContent = `${r.point} on the ${r.n} samples of this seed, generated without any ablation: IoU of each unit's map (upsampled, top ${Math.round(100 * r.quantile)} % of its values) with the pixels of "${r.concepts[c]}"; ${c < 10 ? `the garment on samples the classifier calls ${r.concepts[c]} (${r.counts[c]} of them)` : 'a region derived from each sample\'s pixels and class'}`;
  document.body.dataset.dissect = `${r.point}:${c}`;
}

// unitMaps shows one unit's activation map on every sample of the grid.
async function unitMaps(u) {
  state.unit = u;
  const n = Number($('#n').value);
  const r = await api(`${base()}/unitmaps`, { body: { seed: seed(), n, unit: u } });
  clearTips();
  const [h, w] = r.map_shape;
  const sc = heatScale(Math.min(0, r.lo), r.hi);
  const names = state.info.classes;
  $('#unitmaps').replaceChildren(...r.maps.map((m, i) => {
    const c = el('canvas', { class: 'pix' });
    paint(c, m, h, w, sc);
    readout(c, m, h, w, (y, x, v) => [[`sample ${i}, u${u} (${y}, ${x})`, fmt(v, 3)]]);
    return el('div', { class: 'walk-step', 'data-testid': `umap-${i}` }, c, el('span', { class: 'gan-label' }, names[r.classes[i]]));
  }));
  $('#umap-bar').replaceChildren(colourBar(sc, { testid: 'umap-bar', label: `${r.point} unit ${u}`, marks: [{ v: r.thresh, label: 'IoU threshold' }] }));
  $('#umap-title').textContent = `unit ${u}: its activation map on each sample`;
  drawRanking();
  document.body.dataset.unitmaps = String(u);
}

// ablateTop zeroes the four units ranked highest for the chosen concept.
function ablateTop() {
  const r = state.dissect;
  if (!r) return;
  const c = Number($('#concept').value) || 0;
  const top = r.iou.map((row, u) => [u, row[c]]).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([u]) => u);
  state.ablate = new Map([[r.point, new Set(top)]]);
  $('#point').value = r.point;
  drawUnits();
  drawRanking();
  guard(samples);
}

async function refresh() {
  await guard(async () => {
    $('#status').textContent = 'generating…';
    try {
      await samples();
      await walks();
      await dissect();
    } finally {
      $('#status').textContent = '';
    }
    document.body.dataset.ready = 'gan';
  });
}

async function loadModel(name) {
  state.model = name;
  const u = new URL(location.href);
  u.searchParams.set('model', name);
  history.replaceState(null, '', u);
  state.info = await api(base());
  state.ablate = new Map();
  const pts = state.info.points.filter((p) => p.shape.length === 3 || p.shape.length === 1);
  $('#point').replaceChildren(...pts.map((p) => el('option', { value: p.name, selected: p.name.endsWith('blocks.1.hook_out') }, `${p.name} [${p.shape.join('×')}]`)));
  drawUnits();
  await refresh();
}

async function init() {
  $('#counts').after(links.samples);
  $('#walk-linear').before(links.linear);
  $('#walk-spherical').before(links.spherical);
  normChart = new LineChart($('#norm-chart'), { title: '‖z‖ along the walk', xLabel: 't', yLabel: '‖z‖', testid: 'z-norm', width: Math.min(520, window.innerWidth - 60), height: 220 });
  distChart = new LineChart($('#dist-chart'), { title: 'RMS pixel change per step', xLabel: 't', yLabel: 'RMS change', testid: 'step-distance', width: Math.min(520, window.innerWidth - 60), height: 220 });
  $('#resample').addEventListener('click', refresh);
  $('#next-seed').addEventListener('click', () => { $('#seed').value = seed() + 1; refresh(); });
  $('#n').addEventListener('change', () => guard(async () => { await samples(); await dissect(); }));
  $('#concept').addEventListener('change', drawRanking);
  $('#ablate-top').addEventListener('click', ablateTop);
  $('#banner-clear').addEventListener('click', () => { state.ablate = new Map(); drawUnits(); drawRanking(); guard(samples); });
  $('#steps').addEventListener('change', () => guard(walks));
  $('#point').addEventListener('change', drawUnits);
  $('#clear').addEventListener('click', () => { state.ablate = new Map(); drawUnits(); drawRanking(); guard(samples); });
  await guard(async () => {
    const models = await api('/api/gan/models');
    const want = new URLSearchParams(location.search).get('model');
    const name = models.some((m) => m.name === want) ? want : 'demo';
    const sel = $('#model');
    sel.replaceChildren(...models.map((m) => el('option', { value: m.name, selected: m.name === name },
      m.source === 'demo' ? `${m.name} (embedded DCGAN)` : m.name)));
    sel.addEventListener('change', () => guard(() => loadModel(sel.value)));
    await loadModel(name);
  });
}

init();
