// The discovery page: EAP, EAP-IG or ACDC on a clean and a corrupted
// batch → the circuit drawn as a graph (nodes by layer in columns, edges
// by score), a threshold slider, an edge's exact patching effect on click,
// and the faithfulness curve.

import { $, svg, api, guard, modelPicker, parseTokens, fmt, tooltip, hasTokenizer } from './lib.js';
import { LineChart } from './chart.js';

const enc = encodeURIComponent;
const state = { model: null, info: null, result: null, inputs: null, example: null, lines: [] };
let faith;

// inputs reads the form: the batches (one sequence a line), metric,
// ablation, and the example's position weights while its text is unchanged.
function inputs() {
  const rows = (id) => $(id).value.split('\n').filter((l) => l.trim() !== '').map(parseTokens);
  const body = { clean: rows('#clean'), corrupted: rows('#corrupted'), metric: $('#metric').value, ablation: $('#ablation').value };
  if (body.metric === 'logit-diff') {
    for (const k of ['answer', 'wrong']) {
      const v = $(`#${k}`).value.trim();
      if (v !== '') body[k] = Number(v);
    }
  }
  const ex = state.example;
  if (ex && body.metric !== 'logit-diff' && $('#clean').value === ex.cleanText && $('#corrupted').value === ex.corruptedText) body.weights = ex.weights;
  return body;
}

// textInputs reads the text form: the two prompts (one sequence each)
// and the answers as strings, as the patching page sends them; a metric
// of logit-diff takes the answer and wrong texts (or the ids' fields when
// empty).
function textInputs() {
  const body = { clean_prompt: $('#clean-prompt').value, corrupted_prompt: $('#corrupted-prompt').value, bos: $('#bos').value,
    metric: $('#metric').value, ablation: $('#ablation').value };
  if (body.metric === 'logit-diff') {
    for (const k of ['answer', 'wrong']) {
      if ($(`#${k}-text`).value !== '') body[`${k}_text`] = $(`#${k}-text`).value;
      else if ($(`#${k}`).value.trim() !== '') body[k] = Number($(`#${k}`).value);
    }
  }
  return body;
}

function showOptions() {
  const m = $('#method').value, metric = $('#metric').value;
  $('#steps-label').hidden = m !== 'eap-ig';
  $('#tau-label').hidden = m !== 'acdc';
  $('#answer-label').hidden = $('#wrong-label').hidden = metric !== 'logit-diff';
}

async function example() {
  await guard(async () => {
    const seed = Number($('#seed').value) || 0;
    const ex = await api(`/api/models/${enc(state.model)}/discover/example?seed=${seed}`);
    const text = (rows) => rows.map((r) => r.join(' ')).join('\n');
    state.example = { cleanText: text(ex.clean), corruptedText: text(ex.corrupted), weights: ex.weights };
    $('#clean').value = state.example.cleanText;
    $('#corrupted').value = state.example.corruptedText;
    $('#metric').value = ex.metric;
    $('#method').value = ex.method;
    $('#ablation').value = ex.ablation;
    $('#note').textContent = `Induction example: ${ex.note}.`;
    showOptions();
    await run();
  });
}

async function run(onText = false) {
  await guard(async () => {
    const body = onText ? textInputs() : inputs();
    body.method = $('#method').value;
    if (body.method === 'eap-ig') body.steps = Number($('#steps').value);
    if (body.method === 'acdc') body.tau = Number($('#tau').value);
    $('#status').textContent = `${body.method}…`;
    const t0 = performance.now();
    let r;
    try {
      r = await api(`/api/models/${enc(state.model)}/discover`, { body });
    } finally {
      $('#status').textContent = '';
    }
    delete body.method; delete body.steps; delete body.tau;
    state.result = r;
    state.inputs = body;
    drawCircuit(r);
    drawFaithfulness(r);
    const kept = r.kept !== undefined ? ` · ACDC kept ${r.kept} edges` : '';
    $('#summary').textContent = `${r.method} on ${r.total_edges} edges, ${r.tokens} tokens · ${r.metric}: full model ${fmt(r.full, 4)}, every edge ablated (${r.ablation}) ${fmt(r.empty, 4)}${kept} · ${fmt((performance.now() - t0) / 1000, 2)} s`;
    if (r.note) $('#note').textContent = r.note;
    $('#edge-effect').textContent = '';
    delete $('#edge-effect').dataset.edge;
    document.body.dataset.ready = 'discovery';
  });
}

// layout places the nodes in columns: the embeddings, then per layer its
// heads and its MLP, then the logits.
function layout(nodes) {
  const colOf = (n) => {
    switch (n.kind) {
      case 'embed': case 'pos_embed': return 0;
      case 'head': return 1 + 2 * n.layer;
      case 'mlp': return 2 + 2 * n.layer;
      default: return Infinity;
    }
  };
  const used = [...new Set(nodes.map(colOf))].sort((a, b) => a - b);
  const cols = used.map((c) => nodes.filter((n) => colOf(n) === c));
  const NW = 64, NH = 46, GX = 120, GY = 16, pad = 20;
  const H = Math.max(...cols.map((c) => c.length)) * (NH + GY) + 2 * pad;
  const pos = {};
  cols.forEach((col, ci) => {
    const top = (H - col.length * (NH + GY) + GY) / 2;
    col.forEach((n, i) => { pos[n.name] = { x: pad + ci * (NW + GX), y: top + i * (NH + GY), n }; });
  });
  return { pos, W: 2 * pad + cols.length * (NW + GX) - GX, H, NW, NH };
}

function drawCircuit(r) {
  const L = layout(r.nodes);
  const g = svg('svg', { width: L.W, height: L.H, 'data-testid': 'circuit' });
  const max = Math.max(...r.edges.map((e) => Math.abs(e.score || 0))) || 1;
  const port = (e) => {
    const p = L.pos[e.to_node];
    const f = { q: 0.25, k: 0.5, v: 0.75 }[e.input] || 0.5;
    return [p.x, p.y + f * L.NH];
  };
  const edgeLayer = svg('g', {});
  state.lines = [];
  // Weakest first, so the strongest are drawn on top.
  for (const e of [...r.edges].reverse()) {
    const s = L.pos[e.from], to = L.pos[e.to_node];
    if (!s || !to) continue;
    const a = Math.abs(e.score || 0) / max;
    const [x2, y2] = port(e);
    const name = `${e.from}->${e.to}`;
    const line = svg('line', {
      class: 'edge', x1: s.x + L.NW, y1: s.y + L.NH / 2, x2, y2,
      stroke: e.score >= 0 ? '#b2182b' : '#2166ac', 'stroke-width': (0.6 + 5 * a).toFixed(2), 'stroke-opacity': (0.15 + 0.85 * a).toFixed(3),
      'data-edge': name, 'data-score': e.score,
    });
    line.addEventListener('mousemove', (ev) => tooltip.show([['edge', name], ['score', fmt(e.score, 5)], ['|score| / max', fmt(a, 3)]], ev.clientX, ev.clientY));
    line.addEventListener('mouseleave', () => tooltip.hide());
    line.addEventListener('click', () => edgeEffect(name, e.score, line));
    edgeLayer.append(line);
    state.lines.push({ line, a, score: e.score });
  }
  const nodeLayer = svg('g', {});
  for (const { x, y, n } of Object.values(L.pos)) {
    const box = svg('g', { class: 'node', 'data-node': n.name },
      svg('rect', { x, y, width: L.NW, height: L.NH, rx: 5 }),
      svg('text', { x: x + L.NW / 2, y: y + L.NH / 2 + 4, 'text-anchor': 'middle' }, n.name));
    if (n.kind === 'head') {
      for (const [k, f] of [['q', 0.25], ['k', 0.5], ['v', 0.75]]) box.append(svg('text', { class: 'port', x: x + 3, y: y + f * L.NH + 3 }, k));
    }
    nodeLayer.append(box);
  }
  g.append(edgeLayer, nodeLayer);
  $('#circuit').replaceChildren(g);
  applyThreshold();
}

// applyThreshold hides the edges whose |score| is below the slider's
// fraction of the largest (and edges scored 0).
function applyThreshold() {
  const t = Number($('#threshold').value);
  let shown = 0;
  for (const { line, a, score } of state.lines) {
    const hide = !score || a < t;
    line.classList.toggle('hidden', hide);
    if (!hide) shown++;
  }
  const total = state.result ? state.result.total_edges : 0;
  $('#edge-count').textContent = `${shown} of ${total} edges shown (|score| ≥ ${fmt(t, 2)} × the largest)`;
}

async function edgeEffect(name, score, line) {
  await guard(async () => {
    for (const l of state.lines) l.line.classList.remove('selected');
    line.classList.add('selected');
    const out = $('#edge-effect');
    out.textContent = `${name}: evaluating…`;
    const r = await api(`/api/models/${enc(state.model)}/discover/edge`, { body: { ...state.inputs, edge: name } });
    out.textContent = `${r.edge} ablated alone: ${state.result.metric} ${fmt(r.metric, 5)} (full model ${fmt(r.full, 5)}) · effect ${r.effect >= 0 ? '+' : ''}${fmt(r.effect, 5)} · ${state.result.method} score ${fmt(score, 5)}`;
    out.dataset.edge = r.edge;
  });
}

function drawFaithfulness(r) {
  const points = r.faithfulness.filter(([, y]) => y !== null);
  faith.setData({ series: [{ name: `${r.method}: top edges by |score|`, points }], hlines: [{ y: 1, label: 'full model' }, { y: r.target, label: `${fmt(100 * r.target, 0)}%` }] });
  const size = r.size_at >= 0 ? `${r.size_at} edges reach ${fmt(100 * r.target, 0)}% of the full behaviour` : `no evaluated circuit reaches ${fmt(100 * r.target, 0)}%`;
  $('#faith-note').textContent = `metric recovered, (metric − empty) / (full − empty), against edges kept · area ${fmt(r.faithfulness_area, 3)} · ${size}`;
}

function init() {
  faith = new LineChart($('#faith-chart'), { title: 'Faithfulness curve', xLabel: 'edges kept', yLabel: 'fraction of the full behaviour', testid: 'faith', width: 620 });
  $('#method').addEventListener('change', showOptions);
  $('#metric').addEventListener('change', showOptions);
  $('#example').addEventListener('click', example);
  $('#run').addEventListener('click', () => run(false));
  $('#prompt-run').addEventListener('click', () => run(true));
  $('#threshold').addEventListener('input', applyThreshold);
  showOptions();
  guard(() => modelPicker((name, info) => {
    state.model = name;
    state.info = info;
    const ok = hasTokenizer(info);
    for (const id of ['#clean-prompt', '#corrupted-prompt', '#answer-text', '#wrong-text', '#bos', '#prompt-run']) $(id).disabled = !ok;
    $('#prompt-note').textContent = ok ? `tokenizer: ${info.tokenizer.files}; the answers must be one token each (mind the leading space)` : ((info.tokenizer && info.tokenizer.note) || 'this model has no tokenizer: give token ids');
    $('#circuit').replaceChildren();
    if (ok) { // a text model: the user's prompts, not the induction task
      $('#metric').value = 'logit-diff';
      showOptions();
      document.body.dataset.ready = 'discovery';
      return undefined;
    }
    return example();
  }));
}

init();
