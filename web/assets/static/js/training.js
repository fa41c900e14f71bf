// The training page: a run's curves (loss, accuracy, per-head scores,
// K-composition) with the phase change marked; "Train one now" streams a
// live run over server-sent events.

import { $, el, api, guard, fmt, perFrame, headColor, rgbCSS, figureLinks } from './lib.js';
import { LineChart } from './chart.js';

const enc = encodeURIComponent;
// The server-rendered figure of each chart.
const FIGURES = { loss: 'loss', acc: 'accuracy', ind: 'induction', prev: 'prev-token', kcomp: 'k-composition' };
const state = { run: null, records: [], phase: null, es: null, live: null };
let charts;

function series(key, pick) {
  return state.records.filter((r) => r[key] !== undefined).map((r) => [r.step, pick ? pick(r[key]) : r[key]]);
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

const render = perFrame(() => {
  const markers = state.phase ? [{ x: state.phase.at, label: `phase change (step ${state.phase.at})` }] : [];
  charts.loss.setData({ series: [{ name: 'train loss', points: series('loss') }, { name: 'eval loss', points: series('eval_loss') }], markers });
  charts.acc.setData({ series: [{ name: 'eval accuracy (second half)', points: series('eval_acc') }, { name: 'generalisation probe', points: series('probe_acc') }], markers });
  charts.ind.setData({ series: headSeries('induction_score'), markers });
  charts.prev.setData({ series: headSeries('prev_token_score'), markers });
  const kb = state.records.find((r) => r.k_composition_baseline !== undefined);
  charts.kcomp.setData({
    series: [{ name: 'largest L0→L1 K-composition', points: series('k_composition_max') }],
    hlines: kb ? [{ y: kb.k_composition_baseline, label: `random baseline ${fmt(kb.k_composition_baseline, 3)}` }] : [],
    markers,
  });
});

function setStatus(text, cls = '') {
  const s = $('#status');
  s.textContent = text;
  s.className = `status ${cls}`;
}

function describe(st) {
  const last = state.records[state.records.length - 1];
  const loss = last && last.loss !== undefined ? ` · loss ${fmt(last.loss, 3)}` : '';
  const acc = [...state.records].reverse().find((r) => r.eval_acc !== undefined);
  const a = acc ? ` · eval accuracy ${fmt(acc.eval_acc, 3)}` : '';
  return `${st}: step ${last ? last.step : 0}${state.live ? ` / ${state.live.steps}` : ''}${loss}${a}${state.phase ? ` · phase change at step ${state.phase.at}` : ''}`;
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
  });
  es.addEventListener('phase', (ev) => { state.phase = JSON.parse(ev.data); render(); });
  es.addEventListener('done', (ev) => {
    const st = JSON.parse(ev.data);
    es.close();
    if (state.es === es) state.es = null;
    state.live = { ...state.live, state: st.state };
    if (st.phase_change) state.phase = st.phase_change;
    render();
    $('#stop').hidden = true;
    setStatus(describe(st.state) + (st.error ? ` · ${st.error}` : ''), st.state === 'failed' ? 'bad' : '');
    refreshRuns(state.run);
  });
}

async function loadRun(name) {
  closeStream();
  state.run = name;
  state.records = [];
  state.phase = null;
  state.live = null;
  $('#stop').hidden = true;
  const u = new URL(location.href);
  u.searchParams.set('run', name);
  history.replaceState(null, '', u);
  for (const [id, f] of [['#dl-csv', 'csv'], ['#dl-json', 'json'], ['#dl-jsonl', 'jsonl']]) {
    $(id).href = `/api/runs/${enc(name)}/metrics?format=${f}&download=1`;
  }
  for (const [key, fig] of Object.entries(FIGURES)) charts[key].links.set(`/api/runs/${enc(name)}/figures/${fig}`);
  await guard(async () => {
    const d = await api(`/api/runs/${enc(name)}`);
    if (d.live) {
      stream(d.live);
      setStatus(`${d.live.state}…`, 'live');
      return;
    }
    const m = await api(`/api/runs/${enc(name)}/metrics`);
    state.records = m.records;
    state.phase = m.phase_change;
    render();
    setStatus(describe(d.status));
    document.body.dataset.records = String(state.records.length);
  });
}

async function refreshRuns(select) {
  const runs = await api('/api/runs');
  const sel = $('#run');
  sel.replaceChildren(...runs.map((r) => el('option', { value: r.name, selected: r.name === select },
    `${r.name}${r.source === 'demo' ? ' (embedded demo)' : ''} · ${r.status}${r.steps ? `, ${r.steps} steps` : ''}`)));
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
    acc: new LineChart($('#acc-chart'), opts('Accuracy on repeated tokens', 'accuracy', { yMin: 0, yMax: 1, testid: 'acc' })),
    ind: new LineChart($('#ind-chart'), opts('Induction score per head', 'mean attention to the induction target', { yMin: 0, testid: 'ind' })),
    prev: new LineChart($('#prev-chart'), opts('Previous-token score per head', 'mean attention to the previous token', { yMin: 0, testid: 'prev' })),
    kcomp: new LineChart($('#kcomp-chart'), opts('K-composition', 'score', { testid: 'kcomp' })),
  };
  for (const [key, c] of Object.entries(charts)) {
    c.links = figureLinks(`${key}-links`);
    c.node.querySelector('.chart-tools').prepend(c.links);
  }
  $('#run').addEventListener('change', () => loadRun($('#run').value));
  $('#train').addEventListener('click', train);
  $('#stop').addEventListener('click', () => guard(async () => {
    if (state.live) await api(`/api/train/${enc(state.live.id)}/stop`, { method: 'POST' });
  }));
  // The header's model picker is not used here; show the runs instead.
  const pick = $('#model');
  if (pick) pick.closest('label').hidden = true;
  guard(async () => {
    const want = new URLSearchParams(location.search).get('run');
    const runs = await refreshRuns(want);
    const live = runs.find((r) => r.status === 'running');
    const name = want && runs.some((r) => r.name === want) ? want : (live ? live.name : runs[0].name);
    $('#run').value = name;
    await loadRun(name);
    document.body.dataset.ready = 'training';
  });
}

init();
