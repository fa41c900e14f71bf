// The lens page: logit-lens and tuned-lens tables (points × positions, top
// token coloured by probability) and per-point loss and KL curves.

import { $, $$, el, api, guard, modelPicker, parseTokens, fmt, sequential, textOn, tooltip, figureLinks, promptBox, showPieces, tokenText, predText, visible, hasTokenizer, setURLInput, urlInput, describeInput, PALETTE } from './lib.js';
import { LineChart } from './chart.js';
import { colorbar } from './heatmap.js';

const state = { model: null, info: null, input: null, prompt: null };
const enc = encodeURIComponent;
let lossChart, klChart, posLossChart, posAccChart;
const logitLinks = figureLinks('logit-links');
const tunedLinks = figureLinks('tuned-links');

function table(r, stats, testid) {
  const labels = r.labels, tokens = r.tokens;
  const word = (tp) => (tp.text !== undefined ? `"${visible(tp.text)}" (${tp.token})` : String(tp.token));
  const pred = new Set(r.predictable || []);
  const head = el('tr', {}, el('th', { class: 'point' }, 'point \\ position'),
    ...tokens.map((t, p) => el('th', { title: `position ${p} · token ${t}${pred.has(p) ? ' · next token predictable (this token occurred before)' : ''}`, class: pred.has(p) ? 'pred' : '' },
      el('div', { class: 'tok' }, tokenText(r, p)), el('div', { class: 'muted' }, `${pred.has(p) ? '●' : ''}${p}`))));
  const rows = labels.map((label, i) => el('tr', {}, el('th', { class: 'point' }, label),
    ...stats.top[i].map((top, p) => {
      const best = top[0];
      const next = tokens[p + 1];
      const td = el('td', { class: best.token === next ? 'hit' : '', 'data-point': i, 'data-pos': p },
        el('span', { class: 'tok' }, predText(best)), el('span', { class: 'p' }, fmt(best.prob, 2)));
      td.dataset.bg = sequential(best.prob);
      td.dataset.fg = textOn(best.prob);
      td.addEventListener('mousemove', (ev) => tooltip.show([
        [label, `position ${p} (token ${r.pieces ? `"${visible(r.pieces[p])}" (${tokens[p]})` : tokens[p]})`],
        ['next token', next === undefined ? '–' : (r.pieces ? `"${visible(r.pieces[p + 1])}" (${next})` : String(next))],
        ...top.map((tp, k) => [`#${k + 1}`, `${word(tp)}  p = ${fmt(tp.prob, 3)}`]),
      ], ev.clientX, ev.clientY));
      td.addEventListener('mouseleave', () => tooltip.hide());
      return td;
    })));
  const t = el('table', { class: 'lens', 'data-testid': testid }, el('thead', {}, head), el('tbody', {}, ...rows));
  return t;
}

// probBar is the lens tables' colour scale.
const probBar = () => colorbar({ lo: 0, hi: 1, color: sequential, width: 200, label: 'probability of the top token' });

const short = (label) => label.replace(/^blocks\.(\d+)\.hook_/, 'L$1 ');

// positions shows the input's loss and accuracy by position, and over all
// positions against the predictable ones, for each point of each lens.
function positions(r) {
  const lenses = [['logit lens', r.logit]].concat(r.tuned ? [['tuned lens', r.tuned]] : []);
  const ps = r.logit.positions;
  if (!ps) {
    $('#pos-info').textContent = 'the decoded logits of this model and sequence are too large to keep per position: see the means in the table above';
    $('#pos-table').replaceChildren();
    return;
  }
  const nPred = ps.predictable ? ps.predictable.n : 0;
  $('#pos-info').textContent = `on this input: “all” is every one of its ${ps.all.n} next-token predictions; “predictable” is the ${nPred} positions whose token occurred before (● in the tables), the ones an induction circuit can get right`;
  // Fixed decimals, never an exponent: numbers side by side read alike.
  const cell = (v, digits) => el('td', { class: 'num' }, v === null || v === undefined ? '–' : v.toFixed(digits));
  const rows = [];
  for (const [name, st] of lenses) {
    const p = st.positions;
    r.labels.forEach((label, i) => rows.push(el('tr', {},
      el('th', { class: 'point' }, `${name} · ${short(label)}`),
      cell(p.all.loss[i], 4), cell(p.predictable ? p.predictable.loss[i] : null, 4),
      cell(p.all.accuracy[i], 3), cell(p.predictable ? p.predictable.accuracy[i] : null, 3))));
  }
  $('#pos-table').replaceChildren(el('table', { class: 'scores', 'data-testid': 'pos-table' },
    el('thead', {}, el('tr', {}, el('th', {}, 'point'),
      el('th', {}, `loss · all ${ps.all.n} positions`), el('th', {}, `loss · ${nPred} predictable`),
      el('th', {}, `accuracy · all ${ps.all.n}`), el('th', {}, `accuracy · ${nPred} predictable`))),
    el('tbody', {}, ...rows)));
  const series = (metric) => r.labels.map((label, i) => ({ name: short(label), points: ps[metric][i].map((v, p) => [p, v]) }));
  const start = (r.predictable || [])[0];
  const markers = start === undefined ? [] : [{ x: start, label: 'predictable from here' }];
  posLossChart.setData({ series: series('loss'), markers });
  posAccChart.setData({ series: series('accuracy'), markers });
}

function paint(root) {
  for (const td of $$('td[data-bg]', root)) { td.style.background = td.dataset.bg; td.style.color = td.dataset.fg; }
}

function curves(r) {
  const xTicks = r.labels.map((label, i) => ({ v: i, label: short(label) }));
  const lenses = [['logit lens', r.eval.logit]].concat(r.eval.tuned ? [['tuned lens', r.eval.tuned]] : []);
  const pts = (vs) => vs.map((v, i) => [i, v]);
  const loss = [];
  lenses.forEach(([name, st], k) => {
    const color = PALETTE[k];
    if (st.positions && st.positions.predictable) {
      loss.push({ name: `${name} · predictable positions`, points: pts(st.positions.predictable.loss), color });
      loss.push({ name: `${name} · all positions`, points: pts(st.loss), dash: true, color });
    } else loss.push({ name: `${name} · all positions`, points: pts(st.loss), color });
  });
  lossChart.o.xTicks = xTicks;
  klChart.o.xTicks = xTicks;
  lossChart.setData({ series: loss });
  klChart.setData({ series: lenses.map(([name, st], k) => ({ name, points: pts(st.kl_to_final), color: PALETTE[k] })) });
  const p = r.eval.logit.positions;
  $('#eval-info').textContent = `on ${r.eval.sequences} held-out sequences of the model's task. Loss: over the predictable positions (${r.eval.predictable}${p && p.predictable ? `, ${p.predictable.n} predictions` : ''}) and, dashed, over all ${p ? p.all.n : ''} next-token predictions, most of which (the filler and the first copy) no model can predict. KL(final ‖ lens) over all positions.`;
}

async function decode(input, how) {
  if (Array.isArray(input)) input = { tokens: input };
  await guard(async () => {
    const tuned = $('#tuned').checked;
    $('#status').textContent = tuned ? 'decoding (the first tuned-lens request trains it, a few seconds)…' : 'decoding…';
    const body = { ...input, k: 5, tuned };
    if (body.bos === undefined) delete body.bos;
    const r = await api(`/api/models/${enc(state.model)}/lens`, { body });
    state.input = input;
    $('#tokens').value = r.tokens.join(' ');
    setURLInput(input);
    $('#input-info').textContent = describeInput(input, r.tokens.length, how);
    showPieces(r, state.prompt.bosID);
    $('#logit-table').replaceChildren(table(r, r.logit, 'logit-table'), probBar());
    paint($('#logit-table'));
    $('#tuned-panel').hidden = !r.tuned;
    if (r.tuned) {
      $('#tuned-table').replaceChildren(table(r, r.tuned, 'tuned-table'), probBar());
      paint($('#tuned-table'));
    }
    curves(r);
    positions(r);
    const base = `/api/models/${enc(state.model)}/figures/lens`;
    logitLinks.set(base, { tokens: r.tokens.join(','), lens: 'logit' });
    tunedLinks.set(r.tuned ? base : null, { tokens: r.tokens.join(','), lens: 'tuned' });
    $('#status').textContent = '';
    document.body.dataset.ready = 'lens';
  });
  $('#status').textContent = '';
}

// dla attributes the answer's logit (difference) at the last position of
// the shown sequence to its components: with a tokenizer the fields are
// words of one token, else token ids.
async function dla() {
  await guard(async () => {
    const body = { tokens: parseTokens($('#tokens').value) };
    const text = hasTokenizer(state.info);
    for (const [key, id] of [['answer', '#dla-answer'], ['wrong', '#dla-wrong']]) {
      const v = $(id).value;
      if (v === '') continue;
      if (text) body[`${key}_text`] = v;
      else body[key] = parseTokens(v)[0];
    }
    const r = await api(`/api/models/${enc(state.model)}/lens/dla`, { body });
    const word = (id, t) => (t !== undefined ? `"${visible(t)}" (${id})` : String(id));
    $('#dla-info').textContent = `logit${r.wrong !== undefined ? ' difference' : ''} of ${word(r.answer, r.answer_text)}${r.wrong !== undefined ? ` − ${word(r.wrong, r.wrong_text)}` : ''} after position ${r.pos} (${tokenText(r, r.pos)}): components sum to ${fmt(r.total, 3)} with the constant ${fmt(r.const, 3)}; the model's own: ${fmt(r.logit, 3)}`;
    let m = 0;
    for (const v of r.values) m = Math.max(m, Math.abs(v));
    const rows = r.labels.flatMap((label, i) => {
      const v = r.values[i];
      const bar = el('div', { class: 'bar' });
      bar.style.width = `${Math.max(1, (Math.abs(v) / (m || 1)) * 100)}%`;
      bar.style.background = v >= 0 ? '#15803d' : '#b91c1c';
      return [el('span', { class: 'tok' }, label), bar, el('span', { class: 'val' }, fmt(v, 3))];
    });
    $('#dla').replaceChildren(el('div', { class: 'bars', 'data-testid': 'dla' }, ...rows));
  });
}

async function random() {
  await guard(async () => {
    const seed = Number($('#seed').value) || 0;
    const r = await api(`/api/models/${enc(state.model)}/tokens/repeated?seed=${seed}`);
    await decode(r.tokens, `random example (seed ${seed}): a block of ${r.repeat} tokens at position ${r.first} and again at ${r.second}, as in training`);
  });
}

function init() {
  $('#logit-table').closest('.panel').querySelector('.panel-head').append(logitLinks);
  $('#tuned-panel .panel-head').append(tunedLinks);
  lossChart = new LineChart($('#loss-chart'), { title: 'next-token loss per point', xLabel: 'point', yLabel: 'loss (nats)', logY: true, testid: 'lens-loss' });
  klChart = new LineChart($('#kl-chart'), { title: 'KL(final ‖ lens) per point', xLabel: 'point', yLabel: 'KL (nats)', testid: 'lens-kl' });
  posLossChart = new LineChart($('#pos-loss-chart'), { title: 'logit lens: loss by position (this input)', xLabel: 'position', yLabel: 'loss (nats)', logY: true, testid: 'pos-loss' });
  posAccChart = new LineChart($('#pos-acc-chart'), { title: 'logit lens: top-1 accuracy by position (this input)', xLabel: 'position', yLabel: 'accuracy', yMin: 0, yMax: 1, testid: 'pos-acc' });
  $('#run').addEventListener('click', () => guard(() => decode(parseTokens($('#tokens').value))));
  $('#tokens').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') $('#run').click(); });
  $('#random').addEventListener('click', random);
  $('#tuned').addEventListener('change', () => guard(() => decode(state.input && state.input.prompt !== undefined ? state.input : parseTokens($('#tokens').value))));
  state.prompt = promptBox((input) => decode(input));
  $('#dla-run').addEventListener('click', dla);
  for (const id of ['#dla-answer', '#dla-wrong']) $(id).addEventListener('keydown', (ev) => { if (ev.key === 'Enter') dla(); });
  guard(() => modelPicker((name, info) => {
    state.model = name;
    state.info = info;
    state.prompt.setModel(info);
    $('#dla-answer').placeholder = hasTokenizer(info) ? ' Mary' : 'token id';
    $('#dla-wrong').placeholder = hasTokenizer(info) ? ' John (optional)' : 'id (optional)';
    $('#dla').replaceChildren();
    $('#dla-info').textContent = '';
    // Training a tuned lens on a real model takes a while: opt in.
    $('#tuned').checked = info.source !== 'model';
    const input = urlInput();
    if (input) return decode(input);
    if (info.examples && info.examples.length) { // a text demo: its first example line
      $('#prompt').value = info.examples[0];
      return decode({ prompt: info.examples[0], bos: $('#bos').value });
    }
    return random();
  }));
}

init();
