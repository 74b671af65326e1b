// Interactive charts of runs' epochs and iterations, drawn with uPlot (vendored, served at
// /assets/uPlot.iife.min.js): the values under the pointer in each chart's legend, drag to zoom,
// double-click to zoom out, click a legend entry to hide or show its series, a log scale for
// the losses. A run that is training is asked every 2 s for the iterations it has recorded
// since the last answer (GET /api/runs/<name>/metrics?since=N, the epoch in progress included),
// so its curves grow as it trains; the new points are appended to those already drawn.
// Kept apart from app.js, which calls Charts.mount on the run and compare pages.
'use strict';

const Charts = (() => {
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const POLL_MS = 2000;

  const node = (tag, attrs = {}, ...children) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') n.className = v;
      else n.setAttribute(k, v);
    }
    for (const c of children) n.append(c instanceof Node ? c : String(c ?? ''));
    return n;
  };

  const num = (digits) => (u, v) => (v == null ? '–' : Number(v).toFixed(digits));
  const percent = (u, v) => (v == null ? '–' : (100 * v).toFixed(2) + '%');
  const whole = (u, v) => (v == null ? '–' : String(Math.round(v)));
  // Axis ticks: 98.5%, 100%; learning rates as 1.0e-3 (a plain 0.001 rounds them all alike).
  const tickPercent = (v) => +(100 * v).toFixed(2) + '%';
  const tickRate = (v) => (v === 0 ? '0' : v.toExponential(1));

  // What each chart shows: its x key, and per run the series it draws from that run's data.
  const CHARTS = [
    {
      id: 'epoch-loss', title: 'Loss per epoch', x: 'epoch', log: true, value: num(4),
      series: [['train loss', (e) => e.train_loss], ['valid loss', (e) => e.valid_loss]],
    },
    {
      id: 'epoch-acc', title: 'Accuracy per epoch', x: 'epoch', value: percent, axis: tickPercent,
      series: [['train accuracy', (e) => e.train_acc], ['valid accuracy', (e) => e.valid_acc]],
    },
    {
      id: 'iter-loss', title: 'Training NLL per iteration', x: 'iteration', log: true, value: num(4),
      series: [['NLL', (p) => p.loss]],
    },
    {
      id: 'iter-acc', title: 'Correct per batch', x: 'iteration', value: percent, axis: tickPercent,
      series: [['accuracy', (p) => p.accuracy]],
    },
    {
      id: 'lr', title: 'Learning rate', x: 'iteration', rates: true, axis: tickRate, value: (u, v) => (v == null ? '–' : Number(v).toPrecision(4)),
      series: [['lr', (p) => p.lr]],
    },
  ];

  /** One run's records as fetched so far. */
  function runData(name) {
    return { name, state: null, epochs: [], iterations: [], rates: [], every: null, nextSince: 0 };
  }

  async function fetchMetrics(run) {
    const wasTraining = run.state === 'training';
    const query = '?since=' + run.nextSince + (run.every ? '&every=' + run.every : '');
    const response = await fetch('/api/runs/' + encodeURIComponent(run.name) + '/metrics' + query, { cache: 'no-store' });
    const text = await response.text();
    let answer;
    try { answer = JSON.parse(text); } catch (e) { throw new Error(response.status + ' ' + text.trim()); }
    if (!response.ok) throw new Error(answer.error || response.status + ' ' + response.statusText);
    // Points after `since` replace what was kept after it (the last, still filling bucket).
    const since = run.nextSince;
    run.iterations = run.iterations.filter((p) => p.iteration <= since).concat(answer.iterations);
    run.rates = run.rates.filter((p) => p.iteration <= since).concat(answer.rates);
    run.epochs = answer.epochs;
    run.state = answer.state;
    run.every = answer.every;
    run.nextSince = answer.next_since;
    // Training has ended: a stop drops the epoch in progress, whose iterations were shown as
    // they came; what the run keeps is read once more, whole.
    if (wasTraining && run.state !== 'training') {
      Object.assign(run, runData(run.name));
      await fetchMetrics(run);
    }
  }

  /** uPlot's aligned data for `chart` over `runs`: [xs, ys of each series…]. */
  function aligned(chart, runs) {
    const tables = [];
    for (const run of runs) {
      const rows = chart.x === 'epoch' ? run.epochs : chart.rates ? run.rates : run.iterations;
      const xs = rows.map((r) => r[chart.x]);
      tables.push([xs, ...chart.series.map(([, get]) => rows.map(get))]);
    }
    if (tables.length === 1) return tables[0];
    // Runs have different x values (batch sizes, epochs): uPlot.join merges them, leaving
    // `undefined` where a run has no point, which the lines span.
    return uPlot.join(tables);
  }

  function seriesOf(chart, runs) {
    const out = [{ label: chart.x, value: whole }];
    runs.forEach((run, r) => {
      chart.series.forEach(([label], s) => {
        // Train solid, valid dashed, one colour per run.
        out.push({
          label: (runs.length > 1 ? run.name + ' ' : '') + label,
          stroke: COLORS[(runs.length > 1 ? r : s) % COLORS.length],
          dash: runs.length > 1 && s > 0 ? [6, 4] : undefined,
          width: 1.5,
          spanGaps: true,
          points: { show: chart.x === 'epoch' },
          value: chart.value,
        });
      });
    });
    return out;
  }

  function note(chart, runs) {
    if (chart.x === 'epoch') return 'drag to zoom, double-click to zoom out, click a legend entry to hide it';
    const parts = runs.filter((r) => r.every).map((r) => {
      const each = r.every === 1 ? 'every iteration' : 'mean of each ' + r.every + ' iterations';
      const recorded = r.iterations.reduce((sum, p) => sum + p.count, 0);
      return (runs.length > 1 ? r.name + ': ' : '') + each + ' (' + recorded.toLocaleString('en') + ' recorded)';
    });
    return parts.join('; ');
  }

  /** Draws the charts of `names` into `container`, and keeps them growing while a run trains. */
  function mount(container, names) {
    const runs = names.map(runData);
    const drawn = {};
    window.charts = drawn; // for the browser test and the console
    const status = node('p', { class: 'hint charts-status' }, 'loading the curves…');
    const grid = node('div', { class: 'charts-grid' });
    container.replaceChildren(status, grid);
    const boxes = {};
    for (const chart of CHARTS) {
      const log = chart.log ? node('input', { type: 'checkbox', 'data-log': chart.id }) : null;
      const head = node('div', { class: 'chart-head' }, node('b', {}, chart.title),
        log ? node('label', {}, log, ' log scale') : '');
      const plot = node('div', { class: 'chart-plot' });
      const caption = node('div', { class: 'hint chart-note' });
      const box = node('figure', { class: 'chart', id: 'chart-' + chart.id, hidden: '' }, head, plot, caption);
      grid.append(box);
      boxes[chart.id] = { box, plot, caption, log };
      if (log) log.addEventListener('change', () => draw(chart, true));
    }

    function width() {
      const w = grid.clientWidth || 900;
      return w >= 760 ? Math.floor((w - 24) / 2) : w;
    }

    /** Draws `chart` anew (first time, or its scale changed), or gives it the new data. */
    function draw(chart, rebuild) {
      const { box, plot, caption, log } = boxes[chart.id];
      const data = aligned(chart, runs);
      const has = data[0].length > 0;
      box.hidden = !has;
      caption.textContent = note(chart, runs);
      if (!has) return;
      let u = drawn[chart.id];
      if (u && !rebuild) {
        // Keep a zoom the user chose; follow the data's range otherwise.
        const xs = u.data[0];
        const zoomed = xs.length > 0 && (u.scales.x.min > xs[0] || u.scales.x.max < xs[xs.length - 1]);
        u.setData(data, !zoomed);
        return;
      }
      const hidden = u ? u.series.map((s) => !s.show) : [];
      if (u) u.destroy();
      const logScale = !!(log && log.checked);
      const series = seriesOf(chart, runs);
      hidden.forEach((h, k) => { if (h && series[k]) series[k].show = false; });
      // The figure as wide as its plot, so long legends and notes wrap under it.
      box.style.width = width() + 'px';
      u = new uPlot({
        width: width(),
        height: 240,
        series,
        scales: { x: { time: false }, y: logScale ? { distr: 3 } : {} },
        axes: [
          { label: chart.x },
          chart.axis ? { values: (self, ticks) => ticks.map(chart.axis), size: 64 } : { size: 64 },
        ],
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
      }, data, plot);
      drawn[chart.id] = u;
    }

    let resizing = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        for (const [id, u] of Object.entries(drawn)) {
          boxes[id].box.style.width = width() + 'px';
          u.setSize({ width: width(), height: 240 });
        }
      }, 200);
    });

    async function refresh() {
      const errors = [];
      await Promise.all(runs.map((run) => fetchMetrics(run).catch((e) => errors.push(run.name + ': ' + e.message))));
      for (const chart of CHARTS) draw(chart, false);
      const training = runs.filter((r) => r.state === 'training').map((r) => r.name);
      status.className = errors.length ? 'error charts-status' : 'hint charts-status';
      status.textContent = errors.length ? 'cannot read the curves of ' + errors.join('; ')
        : training.length ? 'training: the curves grow as iterations are recorded (checked every 2 s)'
          : '';
      window.chartsLoaded = (window.chartsLoaded || 0) + 1;
      if (training.length) setTimeout(refresh, POLL_MS);
    }
    refresh();
  }

  return { mount };
})();
