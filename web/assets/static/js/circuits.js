// The circuits page: composition heatmaps against the random baseline,
// per-head scores and named heads, and the full OV/QK circuit explorer.

import { $, $$, el, svg, api, guard, modelPicker, fmt, fmtScore, SCORES, sequential, diverging, aboveBelow, tooltip, textOn, figureLinks, hasTokenizer, visible, setURLState, urlHead } from './lib.js';
import { heatmap, colorbar, withColorbar } from './heatmap.js';

// COMP_RANGE is the composition colour scale's reach in multiples of the
// random baseline: white at 1×, full colour at COMP_RANGE× and 1/COMP_RANGE×
// (a log scale), whatever the largest score, so that an untrained model's
// 1.2× stays pale.
const COMP_RANGE = 3;

// compT maps a score's multiple of the baseline to [-1, 1] on that scale.
const compT = (ratio) => Math.max(-1, Math.min(1, Math.log(Math.max(ratio, 1e-9)) / Math.log(COMP_RANGE)));

const state = { model: null, report: null, head: null, kind: 'ov', token: null, circuit: null };
const enc = encodeURIComponent;

function renderComposition(r) {
  const b = r.composition_baseline;
  const sb = r.composition_baseline_sampled;
  $('#baseline-info').textContent = `random baseline: 1/√d_model = ${fmt(b, 3)}; sampled ${fmt(sb.mean, 3)} ± ${fmt(sb.std, 3)} (${sb.samples} random head pairs)`;
  const writers = [], readers = [];
  for (let l = 0; l < r.n_layers; l++) {
    for (let h = 0; h < r.n_heads; h++) {
      if (l < r.n_layers - 1) writers.push([l, h]);
      if (l > 0) readers.push([l, h]);
    }
  }
  const box = $('#composition');
  if (!writers.length) {
    box.replaceChildren(el('p', { class: 'muted' }, 'A one-layer model has no composition.'));
    return;
  }
  // Colour by multiple of the baseline, on a fixed scale diverging at 1×.
  const color = (v) => aboveBelow(compT(v / b));
  const names = { Q: 'Q-composition', K: 'K-composition', V: 'V-composition' };
  const figs = ['Q', 'K', 'V'].map((mode) => {
    const g = r.composition[mode];
    const hm = heatmap({
      rows: writers.length, cols: readers.length, testid: `comp-${mode}`,
      value: (i, j) => g[writers[i][0]][writers[i][1]][readers[j][0]][readers[j][1]],
      masked: (i, j) => writers[i][0] >= readers[j][0],
      color, showValues: true, format: (v) => `${(v / b).toFixed(1)}×`,
      cell: Math.max(12, Math.min(44, Math.floor(300 / readers.length))),
      rowLabels: writers.map(([l, h]) => `L${l}H${h}`), colLabels: readers.map(([l, h]) => `L${l}H${h}`),
      rowTitle: 'writer (OV)', colTitle: `reader (${mode === 'V' ? 'OV' : mode === 'Q' ? 'queries' : 'keys'})`,
      tooltip: (i, j, v) => [
        ['writer', `L${writers[i][0]}H${writers[i][1]}`], ['reader', `L${readers[j][0]}H${readers[j][1]}`],
        [names[mode], fmt(v, 4)], ['× baseline', fmt(v / b, 2)],
      ],
    });
    const links = figureLinks(`composition-${mode}-links`);
    links.set(`/api/models/${enc(state.model)}/figures/composition-${mode.toLowerCase()}`);
    return el('figure', {}, el('figcaption', {}, names[mode], ' ', links), hm.node);
  });
  // The bar runs over the ratio's logarithm, labelled in multiples.
  const R = Math.log(COMP_RANGE);
  const ratioTicks = [1 / COMP_RANGE, 0.5, 1, 1.5, 2, COMP_RANGE].map((x) => ({ v: Math.log(x), label: `${fmt(x, x < 1 ? 2 : 1).replace(/\.0+$/, '')}×` }));
  const sd = sb && sb.std ? sb.std / b : 0;
  const marks = [{ v: 0, label: `baseline ${fmt(b, 3)}` }];
  figs.push(el('figure', {}, el('figcaption', {}, 'scale: score ÷ baseline'),
    colorbar({ lo: -R, hi: R, color: (x) => aboveBelow(compT(Math.exp(x))), ticks: ratioTicks, marks, width: 220 }),
    el('p', { class: 'muted small' }, sd ? `random heads: 1 ± ${fmt(sd, 2)}× baseline` : '')));
  box.classList.add('hm-figure');
  box.replaceChildren(...figs);
}

function renderHeads(r) {
  const tags = [];
  const on = dataName(r);
  const tag = (cls, text, title) => el('span', { class: `tag ${cls}`, title }, text);
  for (const h of r.previous_token_heads || []) tags.push(tag('prev', `${h.label}: previous-token head (${SCORES.prev.label} ${fmtScore(h.score)})`, `${SCORES.prev.label}: ${SCORES.prev.def}, ${on}`));
  for (const h of r.induction_heads || []) {
    tags.push(tag('ind', `${h.label}: induction head (${SCORES.ind.label} ${fmtScore(h.score)}` +
      (h.k_writer ? `; K-composes with ${h.k_writer} at ${fmtScore(h.k_relative)}× baseline)` : ')'), `${SCORES.ind.label}: ${SCORES.ind.def}, ${on}`));
  }
  for (const h of r.copying_heads || []) tags.push(tag('copy', `${h.label}: copying head (${SCORES.copy.label} ${fmtScore(h.score)})`, `${SCORES.copy.label}: ${SCORES.copy.def}, ${on}`));
  if (!tags.length) tags.push(el('span', { class: 'muted' }, r.repeated_tokens && r.repeated_tokens.note ? r.repeated_tokens.note : 'No head passes the thresholds for previous-token, induction or copying.'));
  $('#named').replaceChildren(...tags);

  const cols = [
    [`${SCORES.prev.label} (random repeats)`, r.repeated_prev_token_score, 'seq', `${SCORES.prev.def}, ${on}`],
    [`${SCORES.ind.label} (random repeats)`, r.prefix_matching_score, 'seq', `${SCORES.ind.def}, ${on}`],
    [`${SCORES.copy.label} (random repeats)`, r.copying_score, 'seq', `${SCORES.copy.def}, ${on}`],
    ['OV eigenvalue positivity', r.ov_eigen_positivity, 'div', 'Σλ/Σ|λ| of the full OV circuit W_E·W_V·W_O·W_U (weights only; 1 = copying)'],
    ['full-OV top-1', r.full_ov_top1, 'seq', 'fraction of tokens whose full OV circuit row is largest at the token itself (weights only)'],
  ].filter((c) => c[1]);
  const rows = [];
  for (let l = 0; l < r.n_layers; l++) {
    for (let h = 0; h < r.n_heads; h++) {
      const tr = el('tr', { class: 'selectable', 'data-head': `L${l}H${h}`, onclick: () => selectHead(l, h) },
        el('td', {}, `L${l}H${h}`),
        ...cols.map(([, g, kind]) => {
          const v = g[l][h];
          const td = el('td', { class: 'cell' }, fmtScore(v));
          td.dataset.bg = kind === 'div' ? diverging(v) : sequential(Math.max(0, v));
          td.dataset.fg = kind === 'div' ? (Math.abs(v) > 0.6 ? '#fff' : '#111') : textOn(v);
          return td;
        }));
      rows.push(tr);
    }
  }
  const rep = r.repeated_tokens || {};
  const table = el('table', { class: 'scores' },
    el('thead', {}, el('tr', {}, el('th', {}, 'head'), ...cols.map(([n, , , t]) => el('th', { title: t }, n)))),
    el('tbody', {}, ...rows));
  const links = figureLinks('heads-links');
  links.set(`/api/models/${enc(state.model)}/figures/heads`);
  $('#head-table').replaceChildren(table, links,
    el('p', { class: 'muted small' }, rep.sequences
      ? `“Random repeats”: scores ${on} (Olsson et al. 2022); the Attention page's scores are on the input shown there. Positivity: Σλ/Σ|λ| of the full OV circuit's eigenvalues (1 = copying).`
      : 'Positivity: Σλ/Σ|λ| of the full OV circuit’s eigenvalues (1 = copying).'));
  for (const td of $$('#head-table td.cell')) { td.style.background = td.dataset.bg; td.style.color = td.dataset.fg; }
}

// dataName says what the report's head scores were computed on.
function dataName(r) {
  const rep = r.repeated_tokens || {};
  return rep.sequences ? `on ${rep.sequences} sequences of a ${rep.block}-token random block repeated ${rep.repeats} times` : 'on repeated random tokens';
}

function selectHead(l, h) {
  state.head = [l, h];
  setURLState({ head: `L${l}H${h}` });
  $('#head').value = `${l}/${h}`;
  for (const tr of $$('#head-table tr.selectable')) tr.classList.toggle('selected', tr.dataset.head === `L${l}H${h}`);
  loadCircuit();
}

async function loadCircuit() {
  await guard(async () => {
    const [l, h] = state.head;
    const c = await api(`/api/models/${enc(state.model)}/circuits/heads/${l}/${h}/${state.kind}`);
    state.circuit = c;
    $('#explorer-title').textContent = `Circuit explorer · ${c.head}`;
    $('#circuit-label').textContent = `${c.label} (${c.rows} × ${c.cols}) `;
    if (c.matrix) {
      const links = figureLinks('circuit-links');
      links.set(`/api/models/${enc(state.model)}/figures/circuit`, { layer: l, head: h, kind: state.kind });
      $('#circuit-label').append(links);
    }
    renderMatrix(c);
    renderEigen(c);
    renderTokenButtons(c.rows);
    const t = state.token !== null && state.token < c.rows ? state.token : 0;
    await loadRow(t);
    document.body.dataset.ready = 'circuits';
  });
}

function renderMatrix(c) {
  if (!c.matrix) {
    $('#matrix').replaceChildren(el('p', { class: 'muted' }, `The circuit is ${c.rows} × ${c.cols}: too large to draw whole; query its rows.`));
    return;
  }
  const isPos = c.kind === 'pos-qk';
  // A query position attends only to keys at or before it: the rest of the
  // positional circuit never happens, so it is masked and left out of the
  // colour scale.
  const masked = isPos ? (i, j) => j > i : null;
  let m = 0;
  c.matrix.forEach((row, i) => row.forEach((v, j) => { if (!masked || !masked(i, j)) m = Math.max(m, Math.abs(v)); }));
  const color = (v) => diverging(v / (m || 1));
  const ids = (n) => Array.from({ length: n }, (_, i) => String(i));
  const hm = heatmap({
    rows: c.rows, cols: c.cols, testid: 'matrix',
    value: (i, j) => c.matrix[i][j], color, masked,
    maxWidth: 460,
    rowLabels: ids(c.rows), colLabels: ids(c.cols),
    rowTitle: isPos ? 'query position' : (c.kind === 'ov' ? 'attended token' : 'query token'),
    colTitle: isPos ? 'key position' : (c.kind === 'ov' ? 'output logit' : 'key token'),
    tooltip: (i, j, v) => [[isPos ? 'row (position)' : 'row (token)', i], [isPos ? 'column (position)' : 'column (token)', j], ['value', fmt(v, 4)]],
    onClick: (i) => loadRow(i),
  });
  const what = c.kind === 'ov' ? 'logit change' : 'attention score (before softmax)';
  $('#matrix').replaceChildren(withColorbar(hm, {
    lo: -m, hi: m, color, width: 220, label: `${what}${isPos ? '; grey: masked (a key after the query)' : ''}`,
  }));
}

function renderEigen(c) {
  const box = $('#eigen');
  if (!c.eigenvalues) {
    box.replaceChildren(el('p', { class: 'muted' }, c.kind === 'ov' ? 'Not square: no eigenvalues.' : 'Eigenvalues and their positivity describe copying by the OV circuit; they are shown for the full OV circuit only.'));
    $('#positivity').textContent = '';
    return;
  }
  $('#positivity').textContent = c.positivity === undefined ? '' : `positivity Σλ/Σ|λ| = ${fmtScore(c.positivity)}`;
  const S = 240, pad = 26;
  let r = 0;
  for (const [re, im] of c.eigenvalues) r = Math.max(r, Math.abs(re), Math.abs(im));
  r = r || 1;
  const X = (v) => pad + ((v + r) / (2 * r)) * (S - 2 * pad);
  const Y = (v) => S - pad - ((v + r) / (2 * r)) * (S - 2 * pad);
  const plot = svg('svg', { width: S, height: S, class: 'eigen', 'data-testid': 'eigen' },
    svg('rect', { x: pad, y: pad, width: S - 2 * pad, height: S - 2 * pad, fill: '#fff', stroke: '#d4d7de' }),
    svg('line', { x1: X(-r), x2: X(r), y1: Y(0), y2: Y(0), stroke: '#aaa' }),
    svg('line', { x1: X(0), x2: X(0), y1: Y(-r), y2: Y(r), stroke: '#aaa' }),
    svg('text', { x: S - pad, y: Y(0) - 4, 'text-anchor': 'end', 'font-size': 10, fill: '#666' }, 'Re'),
    svg('text', { x: X(0) + 4, y: pad + 10, 'font-size': 10, fill: '#666' }, 'Im'),
    svg('text', { x: X(r), y: S - 8, 'text-anchor': 'end', 'font-size': 10, fill: '#666' }, fmt(r, 2)),
    svg('text', { x: X(-r), y: S - 8, 'font-size': 10, fill: '#666' }, fmt(-r, 2)));
  c.eigenvalues.forEach(([re, im], i) => {
    plot.append(svg('circle', {
      cx: X(re), cy: Y(im), r: 4, fill: re >= 0 ? '#15803d' : '#b91c1c', 'fill-opacity': 0.75, stroke: '#fff',
      onmouseenter: (ev) => tooltip.show([[`λ${i + 1}`, `${fmt(re, 4)} ${im >= 0 ? '+' : '−'} ${fmt(Math.abs(im), 4)}i`], ['|λ|', fmt(Math.hypot(re, im), 4)]], ev.clientX, ev.clientY),
      onmouseleave: () => tooltip.hide(),
    }));
  });
  box.replaceChildren(plot, el('p', { class: 'muted small' }, `${c.eigenvalues.length} non-zero eigenvalues (rank ≤ d_head); green: positive real part.`));
}

function renderTokenButtons(n) {
  const isPos = state.kind === 'pos-qk';
  const btns = [];
  for (let t = 0; t < Math.min(n, 512); t++) {
    btns.push(el('button', { 'data-token': t, class: t === state.token ? 'sel' : '', title: isPos ? `position ${t}` : `token ${t}`, onclick: () => loadRow(t) }, String(t)));
  }
  $('#tokens').replaceChildren(el('span', { class: 'muted small' }, isPos ? 'positions:' : 'tokens:'), ...btns);
}

// loadRow shows row t of the circuit, or, given text, the row of the one
// token the text encodes to.
async function loadRow(t, text) {
  await guard(async () => {
    const [l, h] = state.head;
    const k = Math.max(1, Math.min(100, Number($('#topk').value) || 8));
    const which = text !== undefined ? `token_text=${enc(text)}` : `token=${t}`;
    const c = await api(`/api/models/${enc(state.model)}/circuits/heads/${l}/${h}/${state.kind}?${which}&k=${k}`);
    t = c.token;
    state.token = t;
    const name = c.token_text !== undefined ? `"${visible(c.token_text)}" (${t})` : String(t);
    for (const b of $$('#tokens button')) b.classList.toggle('sel', Number(b.dataset.token) === t);
    const what = { ov: `attending to token ${name} raises / lowers the logits of`, qk: `a query at token ${name} attends most / least to key tokens`, 'pos-qk': `a query at position ${t} attends most / least to key positions` }[state.kind];
    $('#row-title').textContent = `Row ${t}: ${what}`;
    let m = 0;
    for (const e of [...c.top, ...c.bottom]) m = Math.max(m, Math.abs(e.value));
    const bars = (list) => list.flatMap((e) => {
      const bar = el('div', { class: 'bar', 'data-w': String(Math.round((Math.abs(e.value) / (m || 1)) * 100)) });
      bar.dataset.bg = e.value >= 0 ? '#15803d' : '#b91c1c';
      const label = e.text !== undefined ? visible(e.text) : String(e.index);
      return [el('span', { class: 'tok', title: `token ${e.index}` }, label), bar, el('span', { class: 'val' }, fmt(e.value, 3))];
    });
    $('#row-top').replaceChildren(
      el('div', { class: 'small muted' }, 'largest'), el('div', { class: 'bars', 'data-testid': 'row-top' }, ...bars(c.top)),
      el('div', { class: 'small muted' }, 'smallest'), el('div', { class: 'bars' }, ...bars(c.bottom)));
    for (const b of $$('#row-top .bar')) { b.style.width = `${Math.max(2, Number(b.dataset.w))}%`; b.style.background = b.dataset.bg; }
  });
}

async function load(name) {
  state.model = name;
  await guard(async () => {
    $('#composition').replaceChildren(el('p', { class: 'muted' }, 'Analysing the weights…'));
    const r = await api(`/api/models/${enc(name)}/circuits`);
    state.report = r;
    renderComposition(r);
    renderHeads(r);
    const opts = [];
    for (let l = 0; l < r.n_layers; l++) for (let h = 0; h < r.n_heads; h++) opts.push(el('option', { value: `${l}/${h}` }, `L${l}H${h}`));
    $('#head').replaceChildren(...opts);
    const ind = (r.induction_heads || [])[0];
    const asked = state.askedHead;
    state.askedHead = null;
    if (asked && asked !== 'max' && asked.l < r.n_layers && asked.h < r.n_heads) selectHead(asked.l, asked.h);
    else {
      // The page's own first choice is not the user's: the URL (and the
      // other pages) get a head once one is picked.
      selectHead(ind ? ind.layer : 0, ind ? ind.head : 0);
      setURLState({ head: null });
    }
  });
}

function init() {
  $('#head').addEventListener('change', () => { const [l, h] = $('#head').value.split('/').map(Number); selectHead(l, h); });
  for (const r of $$('input[name="kind"]')) r.addEventListener('change', () => { state.kind = r.value; state.token = 0; loadCircuit(); });
  $('#topk').addEventListener('change', () => loadRow(state.token || 0));
  const byText = () => { if ($('#token-text').value !== '') loadRow(null, $('#token-text').value); };
  $('#token-text-run').addEventListener('click', byText);
  $('#token-text').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') byText(); });
  guard(() => modelPicker((name, info) => {
    const ok = hasTokenizer(info);
    $('#token-text').disabled = !ok;
    $('#token-text-run').disabled = !ok;
    $('#token-text').title = ok ? 'a word the tokenizer encodes to one token, e.g. " Mary"' : 'this model has no tokenizer';
    state.askedHead = urlHead();
    return load(name);
  }));
}

init();
