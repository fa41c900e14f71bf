// The sweeps page: the sweeps in the runs folder, one's task states (the
// counts line of `workbench sweep status`), statistics of the results
// across done tasks, a histogram of the phase-change step, and a table of
// the tasks.

import { $, el, svg, api, guard, fmt, tooltip } from './lib.js';

const enc = encodeURIComponent;
const PHASE = 'phase_change_step';
// The runs folder itself is "." in the list; browsers fold a "." path
// segment, so its URL uses the alias "-".
const urlName = (name) => (name === '.' ? '-' : enc(name));
// num writes a statistic: integers (steps, counts) as they are.
const num = (v) => (Number.isInteger(v) ? String(v) : fmt(v, 4));

// statsTable lists sweep.Summarize's statistics, one metric a row.
function statsTable(stats) {
  if (!stats.length) return el('p', { class: 'muted small' }, 'no done task has results yet');
  const cols = [['n', 'n'], ['never', 'never'], ['min', 'min'], ['q1', 'Q1'], ['median', 'median'], ['q3', 'Q3'], ['max', 'max']];
  return el('table', { class: 'scores', 'data-testid': 'stats-table' },
    el('thead', {}, el('tr', {}, el('th', {}, 'metric'), ...cols.map(([, label]) => el('th', {}, label)))),
    el('tbody', {}, ...stats.map((s) => el('tr', { 'data-metric': s.metric },
      el('td', {}, s.metric),
      ...cols.map(([k]) => el('td', { class: 'cell' }, num(s[k])))))));
}

// histogram draws the values as an SVG bar chart of about √n bins.
function histogram(values, label) {
  const W = 560, H = 220, L = 44, R = 12, T = 10, B = 38;
  const lo = Math.min(...values), hi = Math.max(...values);
  const nb = hi > lo ? Math.min(30, Math.max(4, Math.ceil(Math.sqrt(values.length)) + 1)) : 1;
  const width = hi > lo ? (hi - lo) / nb : 1;
  const counts = new Array(nb).fill(0);
  for (const v of values) counts[Math.min(nb - 1, Math.floor((v - lo) / width))]++;
  const top = Math.max(...counts);
  const x = (i) => L + ((W - L - R) * i) / nb;
  const y = (c) => T + (H - T - B) * (1 - c / top);
  const g = svg('svg', { class: 'chart-svg', width: W, height: H, 'data-testid': 'phase-hist' });
  g.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: '#888' }),
    svg('line', { x1: L, x2: L, y1: T, y2: H - B, stroke: '#888' }));
  for (let c = 0; c <= top; c += Math.max(1, Math.ceil(top / 5))) {
    g.append(svg('text', { x: L - 6, y: y(c) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#555' }, String(c)));
  }
  counts.forEach((c, i) => {
    const a = lo + i * width, b = hi > lo ? a + width : a;
    const bar = svg('rect', { class: 'bar', x: x(i) + 1, y: y(c), width: Math.max(1, x(i + 1) - x(i) - 2), height: H - B - y(c), fill: '#1d4ed8', 'data-count': c });
    bar.addEventListener('mousemove', (ev) => tooltip.show([[label, hi > lo ? `${fmt(a, 0)} – ${fmt(b, 0)}` : fmt(a, 0)], ['tasks', String(c)]], ev.clientX, ev.clientY));
    bar.addEventListener('mouseleave', () => tooltip.hide());
    g.append(bar);
  });
  for (const v of hi > lo ? [lo, (lo + hi) / 2, hi] : [lo]) {
    const px = hi > lo ? L + ((W - L - R) * (v - lo)) / (hi - lo) : (L + W - R) / 2;
    g.append(svg('text', { x: px, y: H - B + 15, 'text-anchor': 'middle', 'font-size': 11, fill: '#555' }, fmt(v, 0)));
  }
  g.append(svg('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12, fill: '#333' }, label),
    svg('text', { x: 12, y: (T + H - B) / 2, 'text-anchor': 'middle', 'font-size': 12, fill: '#333', transform: `rotate(-90 12 ${(T + H - B) / 2})` }, 'tasks'));
  return g;
}

// scatter draws one metric of the done tasks against one axis: numeric
// axis values on a linear scale, others as categories; a null (never
// reached) is a hollow point on the bottom edge.
function scatter(d, metric, axis) {
  const W = 560, H = 240, L = 56, R = 14, T = 10, B = 40;
  const done = d.tasks.filter((t) => t.metrics && metric in t.metrics && t.axes[axis] !== undefined);
  if (!done.length) return el('p', { class: 'muted small' }, 'no done task has this metric');
  const raw = done.map((t) => t.axes[axis]);
  const numeric = raw.every((v) => v !== '' && Number.isFinite(Number(v)));
  const cats = numeric ? null : [...new Set(raw)].sort();
  const xs = numeric ? raw.map(Number) : raw.map((v) => cats.indexOf(v));
  const ys = done.map((t) => t.metrics[metric]);
  const fin = ys.filter((v) => v !== null);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (numeric) { const px = (x1 - x0) * 0.05; x0 -= px; x1 += px; } else { x0 = -0.5; x1 = cats.length - 0.5; }
  let y0 = fin.length ? Math.min(...fin) : 0, y1 = fin.length ? Math.max(...fin) : 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.08;
  y0 -= pad; y1 += pad;
  const sx = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const sy = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const g = svg('svg', { class: 'chart-svg', width: W, height: H, 'data-testid': 'scatter-plot' });
  g.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: '#888' }), svg('line', { x1: L, x2: L, y1: T, y2: H - B, stroke: '#888' }));
  for (const v of [y0 + pad, (y0 + y1) / 2, y1 - pad]) g.append(svg('text', { x: L - 6, y: sy(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#555' }, num(Number(v.toPrecision(4)))));
  const xt = numeric ? [...new Set(xs)].sort((a, b) => a - b).slice(0, 12).map((v) => [v, String(v)]) : cats.map((c, i) => [i, c]);
  for (const [v, label] of xt) g.append(svg('text', { x: sx(v), y: H - B + 15, 'text-anchor': 'middle', 'font-size': 11, fill: '#555' }, label));
  g.append(svg('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12, fill: '#333' }, axis));
  done.forEach((t, i) => {
    const never = ys[i] === null;
    const c = svg('circle', { class: 'point', cx: sx(xs[i]), cy: never ? H - B : sy(ys[i]), r: 4, fill: never ? 'none' : '#1d4ed8', stroke: '#1d4ed8', 'data-index': t.index });
    c.addEventListener('mousemove', (ev) => tooltip.show([['task', `${t.index} (${t.id})`], [axis, t.axes[axis]], [metric, never ? 'never' : num(ys[i])]], ev.clientX, ev.clientY));
    c.addEventListener('mouseleave', () => tooltip.hide());
    g.append(c);
  });
  return g;
}

// showScatter fills the metric and axis pickers (keeping their choices)
// and draws the scatter.
function showScatter(d) {
  const pick = (id, options, prefer) => {
    const sel = $(id), keep = sel.value;
    sel.replaceChildren(...options.map((o) => el('option', { value: o }, o)));
    sel.value = options.includes(keep) ? keep : (options.find((o) => prefer.includes(o)) || options[0] || '');
  };
  pick('#scatter-metric', d.stats.map((s) => s.metric), [PHASE]);
  pick('#scatter-axis', d.axes, ['seed']);
  const draw = () => $('#scatter').replaceChildren($('#scatter-metric').value && $('#scatter-axis').value
    ? scatter(d, $('#scatter-metric').value, $('#scatter-axis').value)
    : el('p', { class: 'muted small' }, 'no axis or no results to plot'));
  $('#scatter-metric').onchange = draw;
  $('#scatter-axis').onchange = draw;
  draw();
}

// taskTable lists every task: index, ID, state, axes, the metrics.
function taskTable(d) {
  const metrics = d.stats.map((s) => s.metric);
  return el('table', { class: 'scores', 'data-testid': 'task-table' },
    el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'id'), el('th', {}, 'state'),
      ...d.axes.map((a) => el('th', {}, a)), ...metrics.map((m) => el('th', {}, m)))),
    el('tbody', {}, ...d.tasks.map((t) => el('tr', { 'data-state': t.state, 'data-id': t.id, title: t.error || t.run },
      el('td', {}, String(t.index)), el('td', { class: 'cell' }, t.id),
      el('td', { class: `state-${t.state}` }, t.state + (t.error ? `: ${t.error}` : '')),
      ...d.axes.map((a) => el('td', { class: 'cell' }, t.axes[a] ?? '')),
      ...metrics.map((m) => el('td', { class: 'cell' }, !t.metrics ? '' : (t.metrics[m] === null ? 'never' : num(t.metrics[m]))))))));
}

async function load(name) {
  const d = await api(`/api/sweeps/${urlName(name)}`);
  $('#counts').textContent = d.counts;
  const notes = [`${d.command} · ${d.total} tasks${d.axes.length ? ` over ${d.axes.join(', ')}` : ''}`];
  if (d.tasks.length < d.total) notes.push(`the first ${d.tasks.length} tasks are listed`);
  if (d.results_error) notes.push(`results: ${d.results_error}`);
  $('#sweep-note').textContent = notes.join(' · ');
  $('#stats').replaceChildren(statsTable(d.stats));
  const phase = d.tasks.filter((t) => t.metrics && typeof t.metrics[PHASE] === 'number').map((t) => t.metrics[PHASE]);
  const never = d.tasks.filter((t) => t.metrics && PHASE in t.metrics && t.metrics[PHASE] === null).length;
  $('#hist').replaceChildren(phase.length ? histogram(phase, 'phase-change step') : el('p', { class: 'muted small' }, `no done task has a ${PHASE}`));
  $('#hist-note').textContent = phase.length ? `${phase.length} tasks${never ? `; ${never} never had a phase change` : ''}` : '';
  showScatter(d);
  $('#tasks').replaceChildren(taskTable(d));
  const u = new URL(location.href);
  u.searchParams.set('sweep', name);
  history.replaceState(null, '', u);
}

async function refresh() {
  const list = await api('/api/sweeps');
  const sel = $('#sweep');
  if (!list.length) {
    sel.replaceChildren();
    $('#counts').textContent = '';
    $('#sweep-note').textContent = 'no sweep in the runs folder: serve --runs DIR shows DIR and its subfolders holding a plan.json (workbench sweep plan SPEC --out DIR)';
    for (const id of ['#stats', '#hist', '#scatter', '#tasks']) $(id).replaceChildren();
    return;
  }
  const want = sel.value || new URLSearchParams(location.search).get('sweep');
  sel.replaceChildren(...list.map((s) => el('option', { value: s.name, title: s.error || s.counts },
    `${s.name === '.' ? '(the runs folder)' : s.name} · ${s.error ? 'unreadable' : s.counts}`)));
  sel.value = list.some((s) => s.name === want) ? want : list[0].name;
  await load(sel.value);
}

function init() {
  // The header's model picker is not used here.
  const pick = $('#model');
  if (pick) pick.closest('label').hidden = true;
  $('#sweep').addEventListener('change', () => guard(() => load($('#sweep').value)));
  $('#reload').addEventListener('click', () => guard(refresh));
  guard(async () => {
    await refresh();
    document.body.dataset.ready = 'sweeps';
  });
}

init();
