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
    for (const id of ['#stats', '#hist', '#tasks']) $(id).replaceChildren();
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
