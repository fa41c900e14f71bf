// The patching page: two inputs, a metric and an activation kind → a sweep
// heatmap (sites × positions).

import { $, el, api, guard, modelPicker, parseTokens, fmt, diverging, figureLinks, hasTokenizer, showPieces, tokenText, visible, setURLState } from './lib.js';
import { heatmap, withColorbar } from './heatmap.js';

const KINDS = ['resid_pre', 'resid_post', 'attn_out', 'mlp_out', 'head_out', 'q', 'k', 'v', 'pattern'];
const state = { model: null, info: null, text: false }; // text: the last sweep ran on the prompts
const links = figureLinks('patching-links');
const enc = encodeURIComponent;

function num(id) {
  const s = $(id).value.trim();
  if (s === '') return undefined;
  const v = Number(s);
  if (!Number.isInteger(v)) throw new Error(`${id.slice(1)}: "${s}" is not a token id`);
  return v;
}

async function example() {
  await guard(async () => {
    const seed = Number($('#seed').value) || 0;
    const ex = await api(`/api/models/${enc(state.model)}/patching/example?seed=${seed}`);
    $('#clean').value = ex.clean.join(' ');
    $('#corrupted').value = ex.corrupted.join(' ');
    $('#answer').value = ex.answer;
    $('#wrong').value = ex.wrong;
    $('#metric').value = ex.metric;
    $('#what').value = ex.what;
    $('#bypos').checked = ex.by_pos;
    await run(false, `Induction example: ${ex.note}. Metric: logit(${ex.answer}) − logit(${ex.wrong}) at the last position.`);
  });
}

// textBody is a sweep on the text inputs: prompts and answer strings
// (empty answer fields fall back to the ids).
function textBody() {
  const body = {
    clean_prompt: $('#clean-prompt').value, corrupted_prompt: $('#corrupted-prompt').value, bos: $('#bos').value,
    metric: $('#metric').value, what: $('#what').value, by_pos: $('#bypos').checked, normalize: $('#normalize').checked,
  };
  for (const [key, id, ids] of [['answer', '#answer-text', '#answer'], ['wrong', '#wrong-text', '#wrong']]) {
    if ($(id).value !== '') body[`${key}_text`] = $(id).value;
    else if (num(ids) !== undefined) body[key] = num(ids);
  }
  return body;
}

// run sweeps the inputs on the page (the text ones with onText); note
// describes them when they are an example, else the note says they are the
// user's own.
async function run(onText = false, note = '') {
  await guard(async () => {
    const body = onText ? textBody() : {
      clean: parseTokens($('#clean').value), corrupted: parseTokens($('#corrupted').value),
      metric: $('#metric').value, answer: num('#answer'), wrong: num('#wrong'),
      what: $('#what').value, by_pos: $('#bypos').checked, normalize: $('#normalize').checked,
    };
    $('#status').textContent = 'patching…';
    const t0 = performance.now();
    let r;
    try {
      r = await api(`/api/models/${enc(state.model)}/patching`, { body });
    } finally {
      $('#status').textContent = '';
    }
    const g = r.grid;
    state.text = onText;
    $('#note').textContent = note || `Your ${onText ? 'texts' : 'sequences'}: clean and corrupted, ${r.clean_tokens.length} tokens each.`;
    $('#clean').value = r.clean_tokens.join(' ');
    $('#corrupted').value = r.corrupted_tokens.join(' ');
    if (r.answer !== undefined) $('#answer').value = r.answer;
    if (r.wrong !== undefined) $('#wrong').value = r.wrong;
    showPieces(r, null, r.clean_tokens, r.clean_pieces);
    const cl = (j) => tokenText(r, j, r.clean_tokens, r.clean_pieces);
    const co = (j) => tokenText(r, j, r.corrupted_tokens, r.corrupted_pieces);
    const rows = g.axes[0], cols = g.axes[1] || ['all positions'];
    const vals = g.axes.length === 2 ? g.values : g.values.map((v) => [v]);
    const base = g.normalized ? 0 : g.corrupted;
    let m = 0;
    for (const row of vals) for (const v of row) m = Math.max(m, Math.abs(v - base));
    if (g.normalized) m = Math.max(m, 1);
    const color = (v) => diverging((v - base) / (m || 1));
    const colLabels = g.axes.length === 2 ? cols.map((c, j) => `${j}:${cl(j)}${r.clean_tokens[j] !== r.corrupted_tokens[j] ? '*' : ''}`) : cols;
    const hm = heatmap({
      rows: rows.length, cols: colLabels.length, testid: 'patch',
      value: (i, j) => vals[i][j], color, showValues: colLabels.length <= 12,
      rowLabels: rows, colLabels, rowTitle: g.what, colTitle: g.axes.length === 2 ? 'position: clean token (* = differs)' : '',
      maxWidth: 1100,
      tooltip: (i, j, v) => [['site', `${g.what} ${rows[i]}`], ['position', g.axes.length === 2 ? `${j} (clean ${cl(j)}, corrupted ${co(j)})` : 'all'],
        [g.normalized ? 'recovered' : g.metric, fmt(v, 4)]],
    });
    const lo = g.normalized ? Math.min(0, base - m) : base - m, hi = base + m;
    $('#heatmap').replaceChildren(withColorbar(hm, { lo, hi, color, width: 260, label: g.normalized ? '(metric − corrupted) / (clean − corrupted)' : g.metric,
      marks: [{ v: base, label: g.normalized ? 'corrupted 0' : 'corrupted' }].concat(g.normalized ? [{ v: 1, label: 'clean 1' }] : []) }));
    $('#result-title').textContent = `Patching ${g.what}, clean → corrupted`;
    if (r.answer_text !== undefined) {
      $('#note').textContent = `Metric on "${visible(r.answer_text)}" (${r.answer})${r.wrong_text !== undefined ? ` against "${visible(r.wrong_text)}" (${r.wrong})` : ''} at the last position.`;
    }
    const q = { clean: r.clean_tokens.join(','), corrupted: r.corrupted_tokens.join(','), metric: body.metric, what: body.what, by_pos: body.by_pos, normalize: body.normalize };
    const answer = r.answer !== undefined ? r.answer : body.answer, wrong = r.wrong !== undefined ? r.wrong : body.wrong;
    if (answer !== undefined) q.answer = answer;
    if (wrong !== undefined) q.wrong = wrong;
    links.set(`/api/models/${enc(state.model)}/figures/patching`, q);
    // The sweep's inputs in the URL: a link to it runs it again.
    setURLState({ clean: q.clean, corrupted: q.corrupted, answer: q.answer, wrong: q.wrong, what: body.what });
    $('#summary').textContent = `${g.metric}: clean ${fmt(g.clean, 3)}, corrupted ${fmt(g.corrupted, 3)} · ${rows.length * colLabels.length} patches in ${fmt((performance.now() - t0) / 1000, 2)} s`;
    document.body.dataset.ready = 'patching';
  });
}

function init() {
  $('#summary').after(links);
  $('#what').replaceChildren(...KINDS.map((k) => el('option', { value: k }, k)));
  $('#example').addEventListener('click', example);
  $('#run').addEventListener('click', () => run(false));
  for (const id of ['#clean', '#corrupted']) $(id).addEventListener('keydown', (ev) => { if (ev.key === 'Enter') run(false); });
  $('#prompt-run').addEventListener('click', () => run(true));
  for (const id of ['#clean-prompt', '#corrupted-prompt', '#answer-text', '#wrong-text']) {
    $(id).addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); run(true); } });
  }
  guard(() => modelPicker((name, info) => {
    state.model = name;
    state.info = info;
    const ok = hasTokenizer(info);
    for (const id of ['#clean-prompt', '#corrupted-prompt', '#answer-text', '#wrong-text', '#bos', '#prompt-run']) $(id).disabled = !ok;
    $('#prompt-note').textContent = ok ? `tokenizer: ${info.tokenizer.files}; the answers must be one token each (mind the leading space)` : ((info.tokenizer && info.tokenizer.note) || 'this model has no tokenizer: give token ids');
    showPieces(null);
    for (const o of $('#what').options) o.disabled = o.value === 'mlp_out' && info.config.attn_only;
    const u = new URLSearchParams(location.search);
    if (u.has('clean') && u.has('corrupted')) {
      $('#clean').value = u.get('clean').replace(/,/g, ' ');
      $('#corrupted').value = u.get('corrupted').replace(/,/g, ' ');
      $('#answer').value = u.get('answer') || '';
      $('#wrong').value = u.get('wrong') || '';
      if (u.get('what')) $('#what').value = u.get('what');
      return run(false);
    }
    return example();
  }));
}

init();
