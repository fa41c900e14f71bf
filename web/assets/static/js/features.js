// The Features page: a sparse dictionary's features, searchable by id or
// top token; one feature's dashboard (top-activating contexts with each
// token shaded by the activation, histogram, direct logit effects, similar
// features); and a steering box that adds α × the feature's direction.

import { $, el, svg, api, guard, modelPicker, parseTokens, fmt, sequential, textOn, tooltip, visible, hasTokenizer } from './lib.js';

const enc = encodeURIComponent;
const state = { model: null, info: null, dict: null, feature: null };

// label shows a token: its text, or its id without a tokenizer.
const label = (t) => (t.text ? visible(t.text) : String(t.token));

// loadDicts lists the dictionaries of the model and loads the first.
async function loadDicts() {
  const dicts = await api(`/api/features?model=${enc(state.model)}`);
  const sel = $('#dict');
  sel.replaceChildren(...dicts.map((d) => el('option', { value: d.name, text: `${d.name} (${d.hook}, ${d.architecture}${d.k ? ` k ${d.k}` : ''}, ${d.d_sae} features)` })));
  $('#feature-list').replaceChildren();
  if (!dicts.length) {
    $('#dict-info').textContent = 'no dictionary for this model: serve --sae MODEL=DIR adds one';
    document.body.dataset.ready = 'features';
    return;
  }
  state.dicts = Object.fromEntries(dicts.map((d) => [d.name, d]));
  await selectDict(dicts[0].name);
}

async function selectDict(name) {
  state.dict = name;
  const d = state.dicts[name];
  $('#dict-info').textContent = `${d.d_sae} features of width ${d.d_in} at ${d.hook}`;
  $('#steer-feature').max = d.d_sae - 1;
  await search();
  const first = $('#feature-list tbody tr');
  if (first) await openFeature(+first.dataset.id);
  document.body.dataset.ready = 'features';
}

// search lists the features matching the search box, densest first.
async function search() {
  const by = $('#search-by').value, q = $('#search').value.trim();
  const r = await api(`/api/features/${enc(state.dict)}/features?by=${by}&q=${enc(q)}`);
  $('#list-note').textContent = `${r.total} feature${r.total === 1 ? '' : 's'}${q ? ` matching ${by === 'id' ? 'id' : 'token'} "${q}"` : ''}${r.total > r.features.length ? `, the ${r.features.length} densest shown` : ''} · on ${r.positions} positions`;
  const rows = r.features.map((f) => el('tr', { 'data-id': f.id, class: 'clickable', onclick: () => guard(() => openFeature(f.id)) },
    el('td', {}, String(f.id)),
    el('td', { class: 'cell' }, fmt(f.density, 3)),
    el('td', { class: 'cell' }, fmt(f.max_act, 3)),
    el('td', { class: 'toks' }, f.top_tokens.map((t) => el('span', { class: 'piece' }, label(t)))),
    el('td', { class: 'toks' }, f.top_logits.map((t) => el('span', { class: 'piece' }, label(t))))));
  $('#feature-list').replaceChildren(rows.length
    ? el('table', { class: 'scores' },
      el('thead', {}, el('tr', {}, ...['feature', 'density', 'max', 'fires on', 'promotes'].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...rows))
    : el('p', { class: 'muted small' }, 'no feature matches'));
}

// openFeature shows one feature's dashboard.
async function openFeature(id) {
  const f = await api(`/api/features/${enc(state.dict)}/features/${id}`);
  state.feature = id;
  $('#steer-feature').value = id;
  $('#feature-title').textContent = `Feature ${id}`;
  $('#feature-stats').textContent = `density ${fmt(f.density, 3)} · max ${fmt(f.max_act, 3)} · mean when active ${fmt(f.mean_act, 3)}`;
  document.body.dataset.feature = String(id);
  contexts(f);
  $('#histogram').replaceChildren(histogram(f.histogram));
  logits(f);
  $('#similar').replaceChildren(el('ul', { class: 'small' }, ...f.similar.map((s) => el('li', {},
    el('a', { href: '#', 'data-feature': s.feature, onclick: (ev) => { ev.preventDefault(); guard(() => openFeature(s.feature)); } }, `feature ${s.feature}`),
    ` cosine ${fmt(s.cosine, 3)}`))));
}

// contexts draws each top context as token chips shaded by activation.
function contexts(f) {
  const box = $('#contexts');
  if (!f.contexts.length) { box.replaceChildren(el('p', { class: 'muted small' }, 'this feature never fired on these sequences')); return; }
  const top = f.max_act || 1;
  box.replaceChildren(...f.contexts.map((c, k) => el('div', { class: 'pieces', 'data-testid': `context-${k}` },
    el('span', { class: 'muted small' }, `seq ${c.seq} pos ${c.pos}: ${fmt(c.act, 3)} `),
    ...c.tokens.map((t, i) => {
      const a = c.acts[i];
      const chip = el('span', { class: 'piece', 'data-act': a, 'data-pos': c.start + i },
        c.text ? visible(c.text[i]) : String(t));
      chip.style.background = sequential(a / top);
      chip.style.color = textOn(a / top);
      if (c.start + i === c.pos) chip.style.outline = '2px solid #b91c1c';
      chip.addEventListener('mousemove', (ev) => tooltip.show([['token', String(t)], ['position', String(c.start + i)], ['activation', fmt(a, 4)]], ev.clientX, ev.clientY));
      chip.addEventListener('mouseleave', () => tooltip.hide());
      return chip;
    }))));
}

// histogram draws the counts as SVG bars.
function histogram(h) {
  const W = 320, H = 140, L = 36, B = 24, T = 6;
  const top = Math.max(1, ...h.counts);
  const n = h.counts.length;
  const g = svg('svg', { class: 'chart-svg', width: W, height: H, 'data-testid': 'hist-svg' });
  g.append(svg('line', { x1: L, x2: W - 4, y1: H - B, y2: H - B, stroke: '#888' }));
  h.counts.forEach((c, i) => {
    const x = L + ((W - L - 4) * i) / n, w = (W - L - 4) / n;
    const y = T + (H - T - B) * (1 - c / top);
    const bar = svg('rect', { class: 'bar', x: x + 0.5, y, width: Math.max(1, w - 1), height: H - B - y, fill: '#1d4ed8', 'data-count': c });
    bar.addEventListener('mousemove', (ev) => tooltip.show([['activation', `${fmt(h.edges[i], 3)} – ${fmt(h.edges[i + 1], 3)}`], ['positions', String(c)]], ev.clientX, ev.clientY));
    bar.addEventListener('mouseleave', () => tooltip.hide());
    g.append(bar);
  });
  g.append(svg('text', { x: L, y: H - 8, 'font-size': 10, fill: '#555' }, '0'),
    svg('text', { x: W - 4, y: H - 8, 'font-size': 10, fill: '#555', 'text-anchor': 'end' }, fmt(h.edges[n], 3)),
    svg('text', { x: L - 4, y: T + 8, 'font-size': 10, fill: '#555', 'text-anchor': 'end' }, String(top)));
  return g;
}

// logits lists the promoted and suppressed tokens as bars.
function logits(f) {
  const all = [...f.promoted, ...f.suppressed];
  if (!all.length) { $('#logits').replaceChildren(el('p', { class: 'muted small' }, 'no logit effects: the dictionary is not d_model wide')); return; }
  const m = Math.max(...all.map((e) => Math.abs(e.effect))) || 1;
  const rows = all.flatMap((e) => {
    const bar = el('div', { class: 'bar' });
    bar.style.width = `${Math.max(1, (Math.abs(e.effect) / m) * 100)}%`;
    bar.style.background = e.effect >= 0 ? '#15803d' : '#b91c1c';
    return [el('span', { class: 'tok' }, label(e)), bar, el('span', { class: 'val' }, fmt(e.effect, 3))];
  });
  $('#logits').replaceChildren(el('div', { class: 'bars', 'data-testid': 'logit-bars' }, ...rows));
}

// steer runs the steering box.
async function steer() {
  const body = { feature: Number($('#steer-feature').value), alpha: Number($('#steer-alpha').value), max_new: Number($('#steer-new').value) || 0 };
  const text = $('#steer-prompt').value;
  if (hasTokenizer(state.info)) body.prompt = text; else body.tokens = parseTokens(text);
  const r = await api(`/api/features/${enc(state.dict)}/steer`, { body });
  const preds = (ps) => el('ol', { class: 'small' }, ...ps.slice(0, 5).map((p) => el('li', {}, `${label(p)} `, el('span', { class: 'muted' }, fmt(p.prob, 3)))));
  const cont = (ids, texts) => ids.map((t, i) => (texts && texts[i] !== undefined ? visible(texts[i]) : String(t))).join(' ');
  $('#steer-out').replaceChildren(
    el('p', { class: 'small', 'data-testid': 'steer-summary' },
      `KL(clean ‖ steered) of the next token ${fmt(r.kl, 4)}`,
      r.clean_loss !== undefined ? ` · prompt loss ${fmt(r.clean_loss, 4)} → ${fmt(r.steered_loss, 4)}` : ''),
    el('div', { class: 'row' },
      el('div', {}, el('h3', { class: 'small' }, 'next token, clean'), preds(r.clean)),
      el('div', { 'data-testid': 'steered-preds' }, el('h3', { class: 'small' }, 'next token, steered'), preds(r.steered)),
      el('div', {}, el('h3', { class: 'small' }, 'logits raised most'), el('ol', { class: 'small', 'data-testid': 'raised' }, ...r.raised.slice(0, 5).map((e) => el('li', { 'data-token': e.token }, `${label(e)} +${fmt(e.effect, 3)}`))))),
    el('p', { class: 'small' }, 'continuation: ', el('code', {}, cont(r.clean_new, r.clean_new_text))),
    el('p', { class: 'small' }, 'steered: ', el('code', { 'data-testid': 'steered-new' }, cont(r.steered_new, r.steered_new_text))));
  document.body.dataset.steered = String(body.feature);
}

function init() {
  $('#dict').addEventListener('change', () => guard(() => selectDict($('#dict').value)));
  $('#search-by').addEventListener('change', () => { $('#search').placeholder = $('#search-by').value === 'id' ? 'feature id' : 'token id or text'; });
  $('#search-run').addEventListener('click', () => guard(search));
  $('#search').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') guard(search); });
  $('#steer-run').addEventListener('click', () => guard(steer));
  guard(() => modelPicker((name, info) => {
    state.model = name;
    state.info = info;
    delete document.body.dataset.ready;
    $('#steer-prompt').placeholder = hasTokenizer(info) ? 'a prompt, e.g. When Mary and John went to' : 'token ids, e.g. 5 9 13 5 9';
    return guard(loadDicts);
  }));
}

init();
