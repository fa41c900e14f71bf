// Shared helpers of the Workbench pages: DOM and SVG construction, the API
// client, the model picker, the tooltip, colour scales and number formats.
// Plain ES modules, no dependencies.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// The SVG namespace, read from an element the HTML parser placed in it.
export const SVGNS = (() => {
  const d = document.createElement('div');
  d.innerHTML = '<svg></svg>';
  return d.firstChild.namespaceURI;
})();

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// el creates an HTML element: el('div', {class: 'x', onclick: f}, child...).
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// svg creates an SVG element the same way.
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVGNS, tag), attrs, children);
}

// api fetches a JSON API path; a non-2xx answer throws its error message.
export async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: {} };
  if (opts.body !== undefined) {
    init.method = opts.method || 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  if (opts.signal) init.signal = opts.signal;
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const msg = data && data.error ? data.error : `${res.status} ${res.statusText}`;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return data;
}

// showError puts a message in the page's error banner (null clears it).
export function showError(err) {
  const box = $('#error');
  if (!box) return;
  if (!err) { box.hidden = true; box.textContent = ''; return; }
  box.textContent = String(err.message || err);
  box.hidden = false;
}

// guard runs an async action, reporting its error in the banner.
export async function guard(fn) {
  try {
    showError(null);
    return await fn();
  } catch (e) {
    if (e.name !== 'AbortError') showError(e);
    return undefined;
  }
}

// modelLabel is a model's option text in the picker.
function modelLabel(m) {
  if (m.source === 'demo') return `${m.name} (embedded)`;
  if (m.source === 'model') return `${m.name} (--model)`;
  if (m.source === 'checkpoint') return `${m.name} (checkpoint)`;
  return `${m.name} (run)`;
}

// modelInfo is a model's architecture and tokenizer in a line.
function modelInfo(m) {
  if (!m) return '';
  const parts = [];
  if (m.about) parts.push(m.about);
  if (m.arch) parts.push(m.arch.text);
  if (m.trained_on) parts.push(`trained on ${m.trained_on}`);
  if (m.error) parts.push(`error: ${m.error}`);
  if (m.tokenizer && m.tokenizer.files) parts.push(`tokenizer ${m.tokenizer.files}`);
  else if (m.tokenizer && m.tokenizer.note) parts.push(m.tokenizer.note);
  return parts.join(' · ');
}

// modelPicker fills the header's model select from /api/models, selects
// ?model= (or the last used, or the first listed: the text demo), keeps
// the choice in the URL and the navigation links, and calls
// onChange(name, info) now and on change.
// The list is fetched again whenever the select is pressed or gets the
// focus, so that checkpoints written since (by workbench train) appear.
export async function modelPicker(onChange) {
  const sel = $('#model');
  let byName = {};
  const fill = async (want) => {
    // with= lists the run checkpoint a page was opened on (checkpoints are
    // not in the list otherwise)
    const models = await api(`/api/models?with=${encodeURIComponent(want)}`);
    if (!models.some((m) => m.name === want)) want = models[0].name;
    sel.replaceChildren(...models.map((m) => el('option', {
      value: m.name, selected: m.name === want, title: modelInfo(m), text: modelLabel(m),
    })));
    sel.value = want;
    byName = Object.fromEntries(models.map((m) => [m.name, m]));
  };
  const params = new URLSearchParams(location.search);
  const asked = params.get('model');
  await fill(asked || localStorage.getItem('workbench.model') || '');
  // The URL's input belongs to the model it names: if that model is gone,
  // the input is dropped with it.
  if (asked && asked !== sel.value) setURLState({ tokens: null, text: null, bos: null, head: null });
  let first = true;
  const apply = () => {
    const name = sel.value;
    localStorage.setItem('workbench.model', name);
    // Another model's tokens and head may not exist here: a change of model
    // starts from that model's example.
    if (!first) setURLState({ model: name, tokens: null, text: null, bos: null, head: null, clean: null, corrupted: null, answer: null, wrong: null, what: null });
    else setURLState({ model: name });
    first = false;
    const info = $('#model-info');
    if (info) info.textContent = modelInfo(byName[name]);
    onChange(name, byName[name]);
  };
  sel.addEventListener('change', apply);
  const refresh = () => fill(sel.value).catch(() => {});
  sel.addEventListener('focus', refresh);
  sel.addEventListener('pointerdown', refresh);
  apply();
  return sel;
}

// ---- the input state in the URL ----

// URL_KEYS are the query parameters that hold a page's input, carried by
// the navigation links from page to page: the model, the sequence (tokens
// as comma-separated ids, or text with its BOS choice) and the selected
// head ("L1H2", or "max" for the max over heads).
const URL_KEYS = ['model', 'tokens', 'text', 'bos', 'head'];

// setURLState sets the given keys of the page URL (null or '' deletes one)
// without a reload, and copies the input keys into every navigation link.
export function setURLState(st) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(st)) {
    if (v === null || v === undefined || v === '') u.searchParams.delete(k);
    else u.searchParams.set(k, String(v));
  }
  history.replaceState(null, '', u);
  for (const a of $$('a[data-nav]')) {
    const t = new URL(a.href, location.href);
    for (const k of URL_KEYS) {
      const v = u.searchParams.get(k);
      if (v === null) t.searchParams.delete(k);
      else t.searchParams.set(k, v);
    }
    a.href = t.pathname + t.search;
  }
}

// setURLInput records a sequence input ({tokens} or {prompt, bos}) in the URL.
export function setURLInput(input) {
  if (input && input.prompt !== undefined) {
    setURLState({ tokens: null, text: input.prompt, bos: input.bos && input.bos !== 'auto' ? input.bos : null });
  } else {
    setURLState({ tokens: input ? input.tokens.join(',') : null, text: null, bos: null });
  }
}

// urlInput returns the sequence input the URL holds, or null.
export function urlInput() {
  const q = new URLSearchParams(location.search);
  if (q.has('text')) return { prompt: q.get('text'), bos: q.get('bos') || 'auto' };
  if (q.has('tokens')) return { tokens: parseTokens(q.get('tokens')) };
  return null;
}

// urlHead returns the ?head= of the URL as {l, h}, 'max', or null.
export function urlHead() {
  const s = new URLSearchParams(location.search).get('head');
  if (s === 'max') return 'max';
  const m = /^L(\d+)H(\d+)$/.exec(s || '');
  return m ? { l: Number(m[1]), h: Number(m[2]) } : null;
}

// describeInput says in words what sequence a view shows: the user's
// tokens or text, or a generated example (how describes it).
export function describeInput(input, n, how) {
  if (how) return how;
  if (input && input.prompt !== undefined) return `your text: ${n} tokens`;
  return `your sequence: ${n} tokens`;
}

// hasTokenizer reports whether a model of the list takes prompts.
export const hasTokenizer = (info) => !!(info && info.tokenizer && info.tokenizer.files);

// visible shows a token's text with its whitespace visible: ␣ for a
// space, ↵ for a newline, ⏎ for a carriage return, ⇥ for a tab, and other
// control characters as \xNN.
export function visible(s) {
  return s.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\r/g, '⏎').replace(/\t/g, '⇥')
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

// tokenText returns the label of token i of a response: its piece with
// whitespace visible, or its id when the model has no tokenizer.
export function tokenText(r, i, tokens = r.tokens, pieces = r.pieces) {
  if (pieces && pieces[i] !== undefined && pieces[i] !== '') return visible(pieces[i]);
  return String(tokens[i]);
}

// predText labels a predicted token ({token, text?}).
export const predText = (p) => (p.text ? visible(p.text) : String(p.token));

// promptBox wires a page's prompt controls (#prompt, #bos, #prompt-run,
// #prompt-note, #pieces) to the model: enabled for models with a
// tokenizer, else disabled with the reason. run({prompt, bos}) is called
// on the button and on Enter (Shift+Enter: a new line).
export function promptBox(run) {
  const box = {
    setModel(info) {
      const ok = hasTokenizer(info);
      for (const id of ['#prompt', '#bos', '#prompt-run']) if ($(id)) $(id).disabled = !ok;
      const note = $('#prompt-note');
      if (note) {
        note.textContent = ok
          ? `tokenizer: ${info.tokenizer.files}${info.tokenizer.bos ? ` · auto BOS adds ${info.tokenizer.bos}` : ' · auto adds no BOS'}`
          : (info && info.tokenizer && info.tokenizer.note) || 'this model has no tokenizer: give token ids';
      }
      box.bosID = info && info.tokenizer && info.tokenizer.bos_id !== undefined ? info.tokenizer.bos_id : null;
      if (!ok) showPieces(null);
    },
    input() { return { prompt: $('#prompt').value, bos: $('#bos') ? $('#bos').value : undefined }; },
    bosID: null,
  };
  const go = () => { if ($('#prompt').value !== '') run(box.input()); };
  $('#prompt-run').addEventListener('click', go);
  $('#prompt').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); go(); }
  });
  return box;
}

// showPieces lists a response's tokens as chips (whitespace visible, the
// BOS marked) in #pieces; null clears it.
export function showPieces(r, bosID = null, tokens = r && r.tokens, pieces = r && r.pieces) {
  const box = $('#pieces');
  if (!box) return;
  if (!r || !pieces) { box.replaceChildren(); return; }
  const n = tokens.length;
  const shown = Math.min(n, 512);
  const chips = [];
  for (let i = 0; i < shown; i++) {
    const bos = i === 0 && bosID !== null && tokens[0] === bosID;
    chips.push(el('span', { class: `piece${bos ? ' bos' : ''}`, title: `position ${i} · id ${tokens[i]}${bos ? ' · BOS' : ''}`, 'data-pos': i },
      bos ? 'BOS ' : '', visible(pieces[i])));
  }
  if (shown < n) chips.push(el('span', { class: 'muted small' }, ` … and ${n - shown} more (the views label every one)`));
  box.replaceChildren(el('span', { class: 'muted small' }, `${n} tokens: `), ...chips);
}

// The tooltip follows the mouse; lines are strings or [label, value] pairs.
// It belongs to the element under the mouse when shown: once that element
// leaves the page (its figure was redrawn or replaced), the tooltip hides,
// since no mouseleave will ever come from it.
let tipAnchor = null;
let tipWatch = null;
function watchTooltip() {
  if (tipWatch) return;
  tipWatch = new MutationObserver(() => {
    if (tipAnchor && !tipAnchor.isConnected) tooltip.hide();
  });
  tipWatch.observe(document.body, { childList: true, subtree: true });
}

export const tooltip = {
  show(lines, x, y) {
    const tip = $('#tooltip');
    tipAnchor = document.elementFromPoint(x, y);
    watchTooltip();
    tip.replaceChildren(...lines.map((l) => Array.isArray(l)
      ? el('div', {}, el('span', { class: 'tk' }, l[0]), ' ', el('b', {}, l[1]))
      : el('div', {}, l)));
    tip.hidden = false;
    const pad = 14;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let left = x + pad, top = y + pad;
    if (left + w > window.innerWidth - 4) left = x - w - pad;
    if (top + h > window.innerHeight - 4) top = y - h - pad;
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${Math.max(4, top)}px`;
  },
  hide() { tipAnchor = null; $('#tooltip').hidden = true; },
};

// parseTokens reads ids separated by spaces or commas.
export function parseTokens(text) {
  const parts = text.split(/[\s,]+/).filter((s) => s !== '');
  return parts.map((s) => {
    if (!/^-?\d+$/.test(s)) throw new Error(`"${s}" is not a token id`);
    return Number(s);
  });
}

// Number formatting.
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

// fmtScore formats a score of a head in [0, 1] (attention fractions,
// composition ratios): always two decimals, never an exponent, so that
// scores side by side read alike.
export function fmtScore(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return v.toFixed(2);
}

// SCORES defines each head score the pages show, once: its label, and the
// definition the tooltips give. The data it was computed on is said where
// it is shown (this input, or the repeated random tokens of the circuits
// report): a score on other data has another name.
export const SCORES = {
  prev: { label: 'prev-token', def: 'mean attention from each position to the one before it' },
  ind: { label: 'prefix-matching', def: 'mean attention from a repeated token to the token after its earlier occurrence (induction)' },
  copy: { label: 'copying', def: 'fraction of positions where the head\'s value, through W_O·W_U, raises that position\'s own token above the mean logit' },
};

// ---- colours ----

function lerp(a, b, t) { return a + (b - a) * t; }

// rampRGB interpolates colour stops at t in [0, 1] to [r, g, b].
function rampRGB(stops, t) {
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i], b = stops[i + 1];
  return [Math.round(lerp(a[0], b[0], f)), Math.round(lerp(a[1], b[1], f)), Math.round(lerp(a[2], b[2], f))];
}

function ramp(stops, t) {
  return `rgb(${rampRGB(stops, t).join(',')})`;
}

const BLUES = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];
const DIVERGING = [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]];
const ORANGE = [[49, 54, 149], [145, 191, 219], [250, 250, 250], [253, 174, 97], [215, 48, 39]];

// sequential maps [0, 1] to white → dark blue.
export const sequential = (t) => ramp(BLUES, t);
// diverging maps [-1, 1] to blue → white → red.
export const diverging = (t) => ramp(DIVERGING, (t + 1) / 2);
// aboveBelow maps [-1, 1] to blue (below a reference) → white → orange.
export const aboveBelow = (t) => ramp(ORANGE, (t + 1) / 2);
// sequentialRGB and divergingRGB are sequential and diverging as
// [r, g, b] arrays, for canvas pixels.
export const sequentialRGB = (t) => rampRGB(BLUES, t);
export const divergingRGB = (t) => rampRGB(DIVERGING, (t + 1) / 2);

// hsl → [r, g, b] in 0..255.
function hslRGB(h, s, l) {
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [255 * f(0), 255 * f(8), 255 * f(4)];
}

// headColor returns head i of n's base colour as [r, g, b].
export function headColor(i, n) {
  return hslRGB((i * 360) / Math.max(1, n) + 210, 0.7, 0.42);
}

// tintRGB is tint as [r, g, b], for canvas pixels.
export function tintRGB(rgb, t) {
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  return [255 + (rgb[0] - 255) * t, 255 + (rgb[1] - 255) * t, 255 + (rgb[2] - 255) * t];
}

// tint mixes white with rgb by t in [0, 1].
export function tint(rgb, t) {
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  return `rgb(${Math.round(255 + (rgb[0] - 255) * t)},${Math.round(255 + (rgb[1] - 255) * t)},${Math.round(255 + (rgb[2] - 255) * t)})`;
}

export const rgbCSS = (rgb) => `rgb(${rgb.map(Math.round).join(',')})`;

// A qualitative palette for line series.
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

// textColor picks black or white text for a background value in [0, 1].
export const textOn = (t) => (t > 0.55 ? '#fff' : '#111');

// debounce to one call per animation frame.
export function perFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}

// figureLinks returns "PNG · SVG" download links for a figure rendered by
// the server; call .set(path, params) with the figure's path without
// extension and its query (an object), or .set(null) to hide them.
export function figureLinks(testid) {
  const png = el('a', { download: true, 'data-format': 'png' }, 'PNG');
  const svgA = el('a', { download: true, 'data-format': 'svg' }, 'SVG');
  const span = el('span', { class: 'fig-links', 'data-testid': testid, hidden: true }, 'download ', png, ' · ', svgA);
  span.set = (path, params) => {
    span.hidden = !path;
    if (!path) return;
    const q = params ? `?${new URLSearchParams(params)}` : '';
    png.href = `${path}.png${q}`;
    svgA.href = `${path}.svg${q}`;
  };
  return span;
}
