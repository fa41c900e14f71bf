// The training page: a run's curves (loss, accuracy, per-head scores,
// K-composition; for `train lm` runs the in-context-learning score,
// per-head prefix matching over training and per-position loss) with the
// phase change marked; "Train one now" streams a live run over server-sent
// events. Below: the run's checkpoints, each opened on the other pages, the
// pair around the phase change side by side, and several runs overlaid.

import { $, el, api, guard, fmt, perFrame, headColor, rgbCSS, figureLinks, sequential, PALETTE } from './lib.js';
import { LineChart } from './chart.js';
import { heatmap, colorbar } from './heatmap.js';

const enc = encodeURIComponent;
// The server-rendered figure of each chart.
const FIGURES = { loss: 'loss', icl: 'icl', acc: 'accuracy', ind: 'induction', prev: 'prev-token', kcomp: 'k-composition' };
// Pages a checkpoint opens on.
const MODEL_PAGES = [['attention', 'Attention'], ['circuits', 'Circuits'], ['lens', 'Lens'], ['patching', 'Patching']];
// Metrics the comparison can overlay, in menu order, with their labels.
const COMPARE = [
  ['loss', 'train loss'], ['eval_loss', 'eval loss'], ['eval_acc', 'eval accuracy'],
  ['icl_score', 'ICL score (nats)'], ['induction_max', 'best induction score'],
  ['prefix_matching_max', 'best prefix-matching score'], ['k_composition_max', 'largest K-composition'], ['probe_acc', 'generalisation probe'],
];
// At most this many per-position loss curves are drawn (evenly chosen).
const MAX_POSITION_CURVES = 8;

// steps: the run's step count when it has ended (summary.json, or the
// live run's end), which the status reports as the run list does.
const state = { run: null, detail: null, steps: null, records: [], phase: null, es: null, live: null, runs: [], ckpts: null };
// compare: the runs overlaid and their records (the viewed run's are live).
const compare = { names: new Set(), records: new Map(), phases: new Map() };
let charts;
let pmLinks; // downloads of the prefix-matching heatmap

function series(key, pick, records = state.records) {
  return records.filter((r) => r[key] !== undefined && r[key] !== null).map((r) => [r.step, pick ? pick(r[key]) : r[key]]);
}

// headSeries turns [l][h] score arrays into one series per head.
function headSeries(key) {
  const evals = state.records.filter((r) => Array.isArray(r[key]));
  if (!evals.length) return [];
  const L = evals[0][key].length, H = evals[0][key][0].length;
  const out = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      out.push({
        name: `L${l}H${h}`, color: rgbCSS(headColor(l * H + h, L * H)), dash: l === 0 && key === 'induction_score' || l > 0 && key === 'prev_token_score',
        points: evals.map((r) => [r.step, r[key][l][h]]),
      });
    }
  }
  return out;
}

// isLM reports whether the viewed run is a `train lm` run (its config says
// so, or its records carry the language-model measurements).
function isLM() {
  const c = state.detail && state.detail.config;
  return !!(c && c.task === 'lm') || state.records.some((r) => r.icl_score !== undefined || r.prefix_matching_score !== undefined);
}

const has = (key) => state.records.some((r) => r[key] !== undefined && r[key] !== null);

function iclName() {
  const r = state.records.find((x) => Array.isArray(x.icl_positions));
  return r ? `loss at token ${r.icl_positions[1]} − loss at token ${r.icl_positions[0]}` : 'ICL score (late − early positions)';
}

// positionSeries draws per_position_loss at up to MAX_POSITION_CURVES steps.
function positionSeries() {
  const at = state.records.filter((r) => Array.isArray(r.per_position_loss));
  const pick = at.length <= MAX_POSITION_CURVES ? at
    : Array.from({ length: MAX_POSITION_CURVES }, (_, k) => at[Math.round((k * (at.length - 1)) / (MAX_POSITION_CURVES - 1))]);
  return pick.map((r, k) => ({
    name: `step ${r.step}`, color: rgbCSS(headColor(k, pick.length)),
    points: r.per_position_loss.map((v, i) => [i, v]),
  }));
}

// headGrid draws [l][h] scores as a heads × columns heatmap.
function headGrid(cols, value, o) {
  const L = o.layers, H = o.heads;
  const rowLabels = [];
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) rowLabels.push(`L${l}H${h}`);
  return heatmap({
    rows: L * H, cols: cols.length, rowLabels, colLabels: o.colLabels, colTitle: o.colTitle, rowTitle: 'head',
    value: (i, j) => value(cols[j], Math.floor(i / H), i % H),
    color: (v) => sequential(v / o.hi), maxWidth: o.maxWidth || 900, minCell: 4, cell: o.cell,
    tooltip: (i, j, v) => [`${rowLabels[i]}`, o.colTip(cols[j]), `${o.what} ${fmt(v, 3)}`], testid: o.testid,
  });
}

// prefixMatching draws per-head prefix matching over the evaluations.
function prefixMatching() {
  const evals = state.records.filter((r) => Array.isArray(r.prefix_matching_score));
  $('#pm-block').hidden = !evals.length;
  if (!evals.length) return;
  const L = evals[0].prefix_matching_score.length, H = evals[0].prefix_matching_score[0].length;
  const hi = Math.max(1, ...evals.flatMap((r) => r.prefix_matching_score.flat()));
  const pc = state.phase ? evals.reduce((b, r) => (Math.abs(r.step - state.phase.at) < Math.abs(b.step - state.phase.at) ? r : b)).step : null;
  const hm = headGrid(evals, (r, l, h) => r.prefix_matching_score[l][h], {
    layers: L, heads: H, hi, what: 'prefix matching', colTitle: 'evaluation step', testid: 'pm-heatmap',
    colLabels: evals.map((r) => (r.step === pc ? `◆${r.step}` : String(r.step))),
    colTip: (r) => `step ${r.step}${r.step === pc ? ' (phase change)' : ''}`,
  });
  $('#pm-heatmap').replaceChildren(hm.node);
  $('#pm-colorbar').replaceChildren(colorbar({ lo: 0, hi, color: (v) => sequential(v / hi), label: 'prefix-matching score', ticks: [0, hi / 2, hi].map((v) => ({ v, label: fmt(v, 2) })) }));
  $('#pm-note').textContent = `attention to the token after an earlier copy of the current one, ${evals.length} evaluations on repeated random tokens${pc !== null ? ` · ◆ marks the phase change (step ${state.phase.at})` : ''}`;
}

const render = perFrame(() => {
  const lm = isLM();
  const markers = state.phase ? [{ x: state.phase.at, label: `phase change (step ${state.phase.at})` }] : [];
  charts.loss.setData({ series: [{ name: 'train loss', points: series('loss') }, { name: lm ? 'eval loss (held-out text)' : 'eval loss', points: series('eval_loss') }], markers });
  // the lm figures' downloads only where the run has their data
  const figs = `/api/runs/${enc(state.run)}/figures`;
  $('#icl-chart').hidden = !has('icl_score');
  charts.icl.links.set(has('icl_score') ? `${figs}/icl` : null);
  pmLinks.set(has('prefix_matching_score') ? `${figs}/prefix-matching` : null);
  charts.icl.setData({ series: [{ name: iclName(), points: series('icl_score') }], hlines: [{ y: 0, label: 'no in-context learning' }], markers });
  $('#acc-chart').hidden = lm && !has('eval_acc');
  charts.acc.setData({ series: [{ name: 'eval accuracy (second half)', points: series('eval_acc') }, { name: 'generalisation probe', points: series('probe_acc') }], markers });
  charts.ind.o.yLabel = lm ? 'induction score (as train lm defines it)' : 'mean attention to the induction target';
  charts.ind.setData({ series: headSeries('induction_score'), markers });
  charts.prev.setData({ series: headSeries('prev_token_score'), markers });
  const kb = state.records.find((r) => r.k_composition_baseline !== undefined);
  $('#kcomp-chart').hidden = lm && !has('k_composition_max');
  charts.kcomp.setData({
    series: [{ name: 'largest L0→L1 K-composition', points: series('k_composition_max') }],
    hlines: kb ? [{ y: kb.k_composition_baseline, label: `random baseline ${fmt(kb.k_composition_baseline, 3)}` }] : [],
    markers,
  });
  $('#pos-chart').hidden = !has('per_position_loss');
  charts.pos.setData({ series: positionSeries() });
  prefixMatching();
  renderCompare();
  document.body.dataset.rendered = `${state.run}:${state.records.length}`;
});

function setStatus(text, cls = '') {
  const s = $('#status');
  s.textContent = text;
  s.className = `status ${cls}`;
}

// describe is the status line. A run that has ended reports its step
// count, the one the run list shows; the last logged record may be a few
// steps earlier (records are logged every 10 steps, an interrupted run
// stops in between), which is then said.
function describe(st) {
  const logged = state.records.filter((r) => typeof r.step === 'number');
  const last = logged[logged.length - 1];
  const step = state.steps !== null ? state.steps : (last ? last.step : 0);
  const note = state.steps !== null && last && last.step !== state.steps ? ` (last logged at step ${last.step})` : '';
  const lossRec = [...state.records].reverse().find((r) => r.loss !== undefined);
  const loss = lossRec ? ` · loss ${fmt(lossRec.loss, 3)}` : '';
  const acc = [...state.records].reverse().find((r) => r.eval_acc !== undefined);
  const a = acc ? ` · eval accuracy ${fmt(acc.eval_acc, 3)}` : '';
  const icl = [...state.records].reverse().find((r) => r.icl_score !== undefined);
  const i = icl ? ` · ICL score ${fmt(icl.icl_score, 3)}` : '';
  return `${st}: step ${step}${state.live ? ` / ${state.live.steps}` : ''}${note}${loss}${a}${i}${state.phase ? ` · phase change at step ${state.phase.at}` : ''}`;
}

function closeStream() {
  if (state.es) { state.es.close(); state.es = null; }
}

// stream follows a live training's events from the start.
function stream(job) {
  closeStream();
  state.live = job;
  $('#stop').hidden = !(job.state === 'running');
  const es = new EventSource(`/api/train/${enc(job.id)}/events`);
  state.es = es;
  es.addEventListener('record', (ev) => {
    const rec = JSON.parse(ev.data);
    state.records.push(rec);
    render();
    setStatus(describe('training'), 'live');
    document.body.dataset.records = String(state.records.length);
    // an evaluation writes a checkpoint (and prunes old ones): list them again
    if (rec.eval_loss !== undefined) guard(() => loadCheckpoints(job.id));
  });
  es.addEventListener('phase', (ev) => { state.phase = JSON.parse(ev.data); render(); });
  es.addEventListener('done', (ev) => {
    const st = JSON.parse(ev.data);
    es.close();
    if (state.es === es) state.es = null;
    state.live = { ...state.live, state: st.state };
    state.steps = st.step;
    if (st.phase_change) state.phase = st.phase_change;
    render();
    $('#stop').hidden = true;
    setStatus(describe(st.state) + (st.error ? ` · ${st.error}` : ''), st.state === 'failed' ? 'bad' : '');
    refreshRuns(state.run);
    loadCheckpoints(state.run);
  });
}

// ---- checkpoints ----

function modelLinks(model) {
  return el('span', { class: 'ckpt-links' }, ...MODEL_PAGES.flatMap(([page, label], k) => [
    k ? ' · ' : '', el('a', { href: `/${page}?model=${enc(model)}`, 'data-page': page, 'data-model': model }, label)]));
}

// nearestEval returns the evaluation record closest to step (ties: earlier).
function nearestEval(step) {
  const evals = state.records.filter((r) => r.eval_loss !== undefined || Array.isArray(r.induction_score) || Array.isArray(r.prefix_matching_score));
  if (!evals.length) return null;
  return evals.reduce((b, r) => (Math.abs(r.step - step) < Math.abs(b.step - step) ? r : b));
}

// phaseSide is one side of the before/after view: the checkpoint, its
// numbers and its per-head scores, on the colour scale hi.
function phaseSide(title, ck, key, hi) {
  const rec = nearestEval(ck.step);
  const nums = [];
  for (const [k, label] of [['eval_loss', 'eval loss'], ['eval_acc', 'eval accuracy'], ['icl_score', 'ICL score'], ['induction_max', 'best induction'], ['prefix_matching_max', 'best prefix matching']]) {
    if (rec && typeof rec[k] === 'number') nums.push(`${label} ${fmt(rec[k], 3)}`);
  }
  const side = el('div', { class: 'phase-side', 'data-testid': `phase-${ck.role}`, 'data-step': ck.step },
    el('h3', {}, `${title} · step ${ck.step}`),
    el('p', { class: 'small' }, rec ? `${nums.join(' · ')}${rec.step !== ck.step ? ` (evaluated at step ${rec.step})` : ''}` : 'no evaluation logged'),
    el('p', { class: 'small' }, 'open: ', modelLinks(ck.model)));
  if (rec && Array.isArray(rec[key])) {
    const g = rec[key];
    const hm = heatmap({
      rows: g.length, cols: g[0].length, rowLabels: g.map((_, l) => `L${l}`), colLabels: g[0].map((_, h) => `H${h}`),
      rowTitle: 'layer', colTitle: 'head', value: (l, h) => g[l][h], color: (v) => sequential(v / hi), cell: 34, showValues: true,
      tooltip: (l, h, v) => [`L${l}H${h} at step ${rec.step}`, `${key.replace(/_/g, ' ')} ${fmt(v, 3)}`], testid: `phase-heat-${ck.role}`,
    });
    side.append(hm.node);
  }
  return side;
}

function renderPhasePair() {
  const box = $('#phase-pair');
  const ck = state.ckpts;
  const before = ck && ck.checkpoints.find((c) => c.role === 'before');
  const after = ck && ck.checkpoints.find((c) => c.role === 'after');
  box.hidden = !(before && after);
  if (box.hidden) { box.replaceChildren(); return; }
  const key = isLM() || has('prefix_matching_score') ? 'prefix_matching_score' : 'induction_score';
  const vals = [before, after].map((c) => nearestEval(c.step)).filter((r) => r && Array.isArray(r[key])).flatMap((r) => r[key].flat());
  const hi = Math.max(1, ...vals);
  box.replaceChildren(
    el('div', { class: 'panel-head' }, el('h2', {}, 'Before and after the phase change'),
      el('span', { class: 'muted small' }, `per-head ${key.replace(/_/g, ' ')}, one colour scale (0 to ${fmt(hi, 2)})`)),
    el('div', { class: 'phase-cols' }, phaseSide('before', before, key, hi), phaseSide('after', after, key, hi)),
    colorbar({ lo: 0, hi, color: (v) => sequential(v / hi), ticks: [0, hi / 2, hi].map((v) => ({ v, label: fmt(v, 2) })) }),
    el('div', { id: 'phase-attn' }));
  const rec = nearestEval(after.step);
  if (rec && Array.isArray(rec[key])) phaseAttention(before, after, rec[key]);
}

// phaseAttention draws, side by side, the attention pattern of the head
// that scores highest after the phase change, in both checkpoints, on one
// repeated random sequence (a block of 16 tokens and its copy, or the
// model's own task when it is too small for that).
async function phaseAttention(before, after, scores) {
  let best = [0, 0];
  scores.forEach((row, l) => row.forEach((v, h) => { if (v > scores[best[0]][best[1]]) best = [l, h]; }));
  const head = `L${best[0]}H${best[1]}`;
  const run = state.run;
  await guard(async () => {
    const base = `/api/models/${enc(after.model)}/tokens/repeated?seed=1`;
    const seq = await api(`${base}&repeat=16`).catch(() => api(base));
    const pats = await Promise.all([before, after].map((c) => api(`/api/models/${enc(c.model)}/attention?heads=${head}&tokens=${seq.tokens.join(',')}`)));
    if (state.run !== run) return;
    const n = seq.tokens.length;
    const sides = [before, after].map((c, k) => {
      const p = pats[k].patterns[best[0]][best[1]];
      const hm = heatmap({
        rows: n, cols: n, rowLabels: seq.tokens.map(String), colLabels: seq.tokens.map(String), rowTitle: 'destination', colTitle: 'source',
        value: (i, j) => (j <= i ? p[i][j] : null), masked: (i, j) => j > i, color: (v) => sequential(v), maxWidth: 430, minCell: 2,
        tooltip: (i, j, v) => [`${head} at step ${c.step}`, `position ${i} (token ${seq.tokens[i]}) → ${j} (token ${seq.tokens[j]})`, `attention ${fmt(v, 3)}`],
        testid: `phase-attn-${c.role}`,
      });
      return el('div', { class: 'phase-side' }, el('h3', {}, `${c.role} · step ${c.step}`), hm.node);
    });
    $('#phase-attn').replaceChildren(
      el('div', { class: 'panel-head' }, el('h2', {}, `${head}'s attention, before and after`),
        el('span', { class: 'muted small' }, `a block of ${seq.repeat} random tokens from position ${seq.first}, repeated from ${seq.second}: an induction head attends from each repeated token to the one after its first copy`)),
      el('div', { class: 'phase-cols' }, ...sides),
      colorbar({ lo: 0, hi: 1, color: sequential, label: 'attention weight', ticks: [0, 0.5, 1].map((v) => ({ v, label: fmt(v, 1) })) }));
  });
}

function renderCheckpoints() {
  const ck = state.ckpts;
  const list = $('#ckpt-list');
  if (!ck) { list.replaceChildren(); return; }
  const rows = [];
  if (ck.final) rows.push(el('li', { 'data-model': ck.final }, el('strong', {}, 'final model'), ' ', modelLinks(ck.final)));
  for (const c of ck.checkpoints) {
    const role = c.role ? el('span', { class: `badge ${c.role}` }, `${c.role} the phase change`) : null;
    rows.push(el('li', { 'data-model': c.model, 'data-step': c.step }, el('strong', {}, `step ${c.step}`), ' ', role, ' ', modelLinks(c.model)));
  }
  list.replaceChildren(rows.length ? el('ul', {}, ...rows) : el('p', { class: 'muted small' }, 'this run has no checkpoints on disk'));
  renderPhasePair();
}

async function loadCheckpoints(name) {
  const ck = await api(`/api/runs/${enc(name)}/checkpoints`);
  if (state.run !== name) return;
  state.ckpts = ck;
  renderCheckpoints();
}

// ---- comparison ----

function compareColor(name) {
  const k = state.runs.findIndex((r) => r.name === name);
  return PALETTE[(k < 0 ? 0 : k) % PALETTE.length];
}

function compareRecords(name) {
  return name === state.run ? state.records : (compare.records.get(name) || []);
}

function renderCompare() {
  const metric = $('#compare-metric').value || 'loss';
  const names = state.runs.map((r) => r.name).filter((n) => compare.names.has(n));
  // The menu offers the metrics some compared run has.
  const present = COMPARE.filter(([k]) => names.some((n) => compareRecords(n).some((r) => typeof r[k] === 'number')));
  const sel = $('#compare-metric');
  const want = present.some(([k]) => k === metric) ? metric : (present[0] ? present[0][0] : metric);
  if (sel.options.length !== present.length || present.some(([k], i) => sel.options[i].value !== k)) {
    sel.replaceChildren(...present.map(([k, label]) => el('option', { value: k }, label)));
  }
  sel.value = want;
  const label = (COMPARE.find(([k]) => k === want) || [want, want])[1];
  const markers = names.filter((n) => (n === state.run ? state.phase : compare.phases.get(n)))
    .map((n) => ({ x: (n === state.run ? state.phase : compare.phases.get(n)).at, label: n }));
  charts.compare.o.yLabel = label;
  charts.compare.setData({
    series: names.map((n) => ({ name: n, color: compareColor(n), points: series(want, null, compareRecords(n)) })),
    markers,
  });
  document.body.dataset.compared = names.join(',');
}

function renderCompareRuns() {
  $('#compare-runs').replaceChildren(...state.runs.map((r) => el('label', { class: 'compare-run' },
    el('input', { type: 'checkbox', value: r.name, checked: compare.names.has(r.name), onchange: (ev) => toggleCompare(r.name, ev.target.checked) }),
    el('i', { class: 'swatch', 'data-color': compareColor(r.name) }), ` ${r.name}`)));
  for (const i of $('#compare-runs').querySelectorAll('i.swatch')) i.style.borderColor = i.dataset.color;
}

function saveCompare() {
  const u = new URL(location.href);
  const others = [...compare.names].filter((n) => n !== state.run);
  if (others.length) u.searchParams.set('compare', others.join(',')); else u.searchParams.delete('compare');
  u.searchParams.set('metric', $('#compare-metric').value || 'loss');
  history.replaceState(null, '', u);
}

async function toggleCompare(name, on) {
  if (on) compare.names.add(name); else compare.names.delete(name);
  saveCompare();
  await guard(async () => {
    if (on && name !== state.run && !compare.records.has(name)) {
      const m = await api(`/api/runs/${enc(name)}/metrics`);
      compare.records.set(name, m.records);
      if (m.phase_change) compare.phases.set(name, m.phase_change);
    }
    render();
  });
}

// ---- runs ----

async function loadRun(name) {
  closeStream();
  if (state.run) compare.names.delete(state.run);
  state.run = name;
  compare.names.add(name);
  state.detail = null;
  state.steps = null;
  state.records = [];
  state.phase = null;
  state.live = null;
  state.ckpts = null;
  renderCheckpoints();
  $('#stop').hidden = true;
  const u = new URL(location.href);
  u.searchParams.set('run', name);
  history.replaceState(null, '', u);
  renderCompareRuns();
  for (const [id, f] of [['#dl-csv', 'csv'], ['#dl-json', 'json'], ['#dl-jsonl', 'jsonl']]) {
    $(id).href = `/api/runs/${enc(name)}/metrics?format=${f}&download=1`;
  }
  // the lm figures' links are set by render, when the run has their data
  for (const [key, fig] of Object.entries(FIGURES)) charts[key].links.set(key === 'icl' ? null : `/api/runs/${enc(name)}/figures/${fig}`);
  pmLinks.set(null);
  await guard(async () => {
    const d = await api(`/api/runs/${enc(name)}`);
    state.detail = d;
    if (d.live) {
      stream(d.live);
      setStatus(`${d.live.state}…`, 'live');
      await loadCheckpoints(name);
      return;
    }
    const m = await api(`/api/runs/${enc(name)}/metrics`);
    state.records = m.records;
    state.phase = m.phase_change;
    state.steps = d.steps > 0 ? d.steps : null;
    render();
    setStatus(describe(d.status));
    document.body.dataset.records = String(state.records.length);
    await loadCheckpoints(name);
  });
}

async function refreshRuns(select) {
  const runs = await api('/api/runs');
  state.runs = runs;
  const sel = $('#run');
  sel.replaceChildren(...runs.map((r) => el('option', { value: r.name, selected: r.name === select },
    `${r.name}${r.source === 'demo' ? ' (embedded demo)' : ''} · ${r.status}${r.steps ? `, ${r.steps} steps` : ''}`)));
  renderCompareRuns();
  return runs;
}

async function train() {
  await guard(async () => {
    $('#train').disabled = true;
    try {
      const steps = Number($('#steps').value) || 2000;
      const seed = Number($('#train-seed').value) || 0;
      const job = await api('/api/train', { body: { steps, seed } });
      await refreshRuns(job.id);
      await loadRun(job.id);
    } finally {
      $('#train').disabled = false;
    }
  });
}

function init() {
  const opts = (title, yLabel, extra = {}) => ({ title, xLabel: 'step', yLabel, ...extra });
  charts = {
    loss: new LineChart($('#loss-chart'), opts('Loss', 'cross-entropy (nats)', { logY: true, testid: 'loss' })),
    icl: new LineChart($('#icl-chart'), opts('In-context learning score (held-out text)', 'loss late − loss early (nats)', { testid: 'icl' })),
    acc: new LineChart($('#acc-chart'), opts('Accuracy on repeated tokens', 'accuracy', { yMin: 0, yMax: 1, testid: 'acc' })),
    ind: new LineChart($('#ind-chart'), opts('Induction score per head', 'mean attention to the induction target', { yMin: 0, testid: 'ind' })),
    prev: new LineChart($('#prev-chart'), opts('Previous-token score per head', 'mean attention to the previous token', { yMin: 0, testid: 'prev' })),
    kcomp: new LineChart($('#kcomp-chart'), opts('K-composition', 'score', { testid: 'kcomp' })),
    pos: new LineChart($('#pos-chart'), { title: 'Loss per position (held-out text)', xLabel: 'position in the context', yLabel: 'cross-entropy (nats)', testid: 'pos' }),
    compare: new LineChart($('#compare-chart'), opts('Runs compared', 'train loss', { testid: 'compare', width: 760, height: 300 })),
  };
  for (const key of Object.keys(FIGURES)) {
    const c = charts[key];
    c.links = figureLinks(`${key}-links`);
    c.node.querySelector('.chart-tools').prepend(c.links);
  }
  pmLinks = figureLinks('pm-links');
  $('#pm-block .panel-head').append(pmLinks);
  $('#run').addEventListener('change', () => loadRun($('#run').value));
  $('#train').addEventListener('click', train);
  $('#stop').addEventListener('click', () => guard(async () => {
    if (state.live) await api(`/api/train/${enc(state.live.id)}/stop`, { method: 'POST' });
  }));
  $('#compare-metric').addEventListener('change', () => { saveCompare(); render(); });
  // The header's model picker is not used here; show the runs instead.
  const pick = $('#model');
  if (pick) pick.closest('label').hidden = true;
  guard(async () => {
    const q = new URLSearchParams(location.search);
    const want = q.get('run');
    const runs = await refreshRuns(want);
    const live = runs.find((r) => r.status === 'running');
    const name = want && runs.some((r) => r.name === want) ? want : (live ? live.name : runs[0].name);
    $('#run').value = name;
    if (q.get('metric')) $('#compare-metric').replaceChildren(el('option', { value: q.get('metric') }, q.get('metric')));
    await loadRun(name);
    for (const n of (q.get('compare') || '').split(',')) {
      if (n && runs.some((r) => r.name === n)) await toggleCompare(n, true);
    }
    renderCompareRuns();
    document.body.dataset.ready = 'training';
  });
}

init();
