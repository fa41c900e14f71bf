// The GAN page: a sample grid judged by the classifier, linear and
// spherical latent walks between two chosen samples, and generator units to
// ablate.

import { $, el, api, guard, fmt, figureLinks } from './lib.js';
import { LineChart } from './chart.js';

const enc = encodeURIComponent;
const state = { model: null, info: null, ends: [0, 1], next: 0, ablate: new Map(), samples: 0 };
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
  const counts = r.counts.map((c, k) => [c, r.names[k]]).filter(([c]) => c > 0).sort((a, b) => b[0] - a[0]);
  $('#counts').textContent = `classes: ${counts.map(([c, name]) => `${name} ${c}`).join(', ')} · ${counts.length} of 10 covered`;
  links.samples.set(`${base()}/figures/samples`, { seed: seed(), n });
  state.samples++;
  document.body.dataset.samples = state.samples;
  document.body.dataset.counts = JSON.stringify(r.counts);
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

async function refresh() {
  await guard(async () => {
    $('#status').textContent = 'generating…';
    try {
      await samples();
      await walks();
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
  normChart = new LineChart($('#norm-chart'), { title: '‖z‖ along the walk', xLabel: 't', yLabel: '‖z‖', testid: 'z-norm', width: 520, height: 220 });
  distChart = new LineChart($('#dist-chart'), { title: 'RMS pixel change per step', xLabel: 't', yLabel: 'RMS change', testid: 'step-distance', width: 520, height: 220 });
  $('#resample').addEventListener('click', refresh);
  $('#next-seed').addEventListener('click', () => { $('#seed').value = seed() + 1; refresh(); });
  $('#n').addEventListener('change', () => guard(samples));
  $('#steps').addEventListener('change', () => guard(walks));
  $('#point').addEventListener('change', drawUnits);
  $('#clear').addEventListener('click', () => { state.ablate = new Map(); drawUnits(); guard(samples); });
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
