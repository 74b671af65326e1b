// The app's pages: the runs table (sortable, refreshed while runs train), the run page's live
// epochs, and the draw panel. Plain JavaScript; the charts are charts.js's (uPlot, vendored and
// served by the app: it must work offline).
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);

/** An element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ''));
  return node;
}

const pct = (x) => (x == null ? '' : (100 * x).toFixed(2) + '%');
const fixed = (digits) => (x) => (x == null ? '' : Number(x).toFixed(digits));

/** A duration as people read it: `45 s`, `1 min 20 s`, `2 h 5 min`. */
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

/**
 * A run's state in words: a training run with where its epoch stands and when it should end
 * (`training · epoch 3/6 · 42% · ETA 1 min 20 s`, from /api/runs' `progress`), others as is.
 */
function stateText(run) {
  const p = run.progress;
  if (run.state !== 'training' || !p) return run.state;
  const share = p.items_total > 0 ? Math.floor((100 * p.items_done) / p.items_total) + '%' : '';
  return ['training', 'epoch ' + p.epoch + '/' + p.epochs,
    (p.phase === 'valid' ? 'validating ' : '') + share,
    p.eta_seconds == null ? '' : 'ETA ' + duration(p.eta_seconds)].filter((x) => x).join(' · ');
}

/**
 * The JSON of a response, or an Error with the server's message. The status is checked before
 * parsing: an error may come from a proxy or the browser and not be JSON at all.
 */
async function readJSON(response) {
  if (!response.ok) {
    const text = await response.text();
    let message = '';
    try { message = JSON.parse(text).error || ''; } catch (e) { message = text.trim(); }
    throw new Error(message || response.status + ' ' + response.statusText);
  }
  return response.json();
}

async function getJSON(url) {
  return readJSON(await fetch(url, { cache: 'no-store' }));
}

/**
 * A request that changes something (launch, stop, resume, delete). The server's token travels
 * in its HttpOnly cookie, set when the page was opened with `?token=…`; without it the server
 * answers 403, and the message says how to get it.
 */
async function send(method, url, body, type = 'application/json') {
  const init = { method, cache: 'no-store', headers: {} };
  if (body != null) {
    init.body = body;
    init.headers['Content-Type'] = type;
  }
  const response = await fetch(url, init);
  if (response.status === 204) return null;
  return readJSON(response);
}

// ---- runs page ----

const COLUMNS = [
  ['name', 'run', (r) => el('a', { href: '/runs/' + encodeURIComponent(r.name) + '/' }, r.name)],
  ['state', 'state', stateText],
  ['model', 'model', (r) => r.model],
  ['trainer', 'trainer', (r) => r.trainer],
  ['optimizer', 'optimizer', (r) => r.optimizer],
  ['lr', 'lr', (r) => r.lr ?? ''],
  ['batch_size', 'batch', (r) => r.batch_size ?? ''],
  ['epochs_done', 'epochs', (r) => r.epochs_done + ' / ' + (r.epochs_planned ?? '?')],
  ['validation', 'validated on', (r) => r.validation ?? ''],
  ['test_accuracy', 'test accuracy', (r) => pct(r.test_accuracy)],
  ['seconds_per_epoch', 's/epoch', (r) => fixed(2)(r.seconds_per_epoch)],
  ['backend', 'backend', (r) => r.backend ?? ''],
  ['note', 'note', (r) => r.note ?? ''],
];

function runsPage() {
  const table = $('#runs');
  const status = $('#status');
  const compare = $('#compare');
  const checked = new Set();
  let runs = [];
  let sortKey = 'name';
  let ascending = true;

  const head = el('tr', {}, el('th', {}, ''));
  for (const [key, label] of COLUMNS) {
    const th = el('th', { 'data-key': key }, label);
    th.addEventListener('click', () => {
      ascending = sortKey === key ? !ascending : true;
      sortKey = key;
      render();
    });
    head.append(th);
  }
  $('thead', table).append(head);

  compare.addEventListener('click', () => {
    location.href = '/compare?runs=' + [...checked].map(encodeURIComponent).join(',');
  });

  const filter = $('#filter');
  filter.value = new URLSearchParams(location.search).get('filter') || '';
  filter.addEventListener('input', () => render());
  /** Whether a run matches every word of the filter box in one of its shown columns. */
  function matches(r) {
    const words = filter.value.toLowerCase().split(/\s+/).filter((w) => w);
    const text = COLUMNS.map(([key]) => r[key] ?? '').join(' ').toLowerCase();
    return words.every((w) => text.includes(w));
  }

  function render() {
    const rows = runs.filter(matches).sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      const order = x == null ? 1 : y == null ? -1 : x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    for (const th of head.querySelectorAll('th[data-key]')) {
      th.classList.toggle('sorted', th.dataset.key === sortKey);
      th.classList.toggle('asc', th.dataset.key === sortKey && ascending);
    }
    const body = $('tbody', table);
    body.replaceChildren();
    for (const r of rows) {
      const box = el('input', { type: 'checkbox', 'data-run': r.name });
      box.checked = checked.has(r.name);
      box.disabled = !r.has_model;
      box.addEventListener('change', () => {
        box.checked ? checked.add(r.name) : checked.delete(r.name);
        compare.disabled = checked.size < 2;
      });
      const tr = el('tr', { 'data-run': r.name }, el('td', {}, box));
      for (const [key, , show] of COLUMNS) {
        const td = el('td', { class: 'l state-' + (key === 'state' ? r.state : '') }, show(r));
        tr.append(td);
      }
      body.append(tr);
    }
    compare.disabled = checked.size < 2;
  }

  async function refresh() {
    try {
      runs = await getJSON('/api/runs');
      const training = runs.filter((r) => r.state === 'training').length;
      const queued = runs.filter((r) => r.state === 'queued').length;
      status.textContent = runs.length + ' runs' + (training ? ', ' + training + ' training now' : '') +
        (queued ? ', ' + queued + ' queued' : '');
      render();
    } catch (e) {
      status.textContent = 'cannot list the runs: ' + e.message;
    }
  }
  refresh();
  setInterval(refresh, 2000);
}

// ---- the runs page's list of sweeps ----

/** The sweeps above the runs table, each linking to its page; hidden while there are none. */
function sweepList() {
  const section = $('#sweeps');
  const list = $('#sweep-list');
  async function refresh() {
    try {
      const sweeps = await getJSON('/api/sweeps');
      section.hidden = sweeps.length === 0;
      list.replaceChildren(...sweeps.map((w) => el('li', { 'data-sweep': w.name },
        el('a', { href: '/sweeps/' + encodeURIComponent(w.name) + '/' }, w.name),
        ' ' + w.state + ' · ' + w.finished + ' of ' + w.points + ' points finished' +
        (w.note ? ' · ' + w.note : ''))));
    } catch (e) {
      section.hidden = false;
      list.replaceChildren(el('li', { class: 'error' }, 'cannot list the sweeps: ' + e.message));
    }
  }
  refresh();
  setInterval(refresh, 2000);
}

// ---- sweep page ----

function sweepPage(name) {
  const state = $('#state');
  const table = $('#sweep-table');
  const bar = $('#controls');
  const path = '/api/sweeps/' + encodeURIComponent(name);
  let chartsFor = null;
  let figuresFor = null;
  async function refresh() {
    let sweep;
    try {
      sweep = await getJSON(path);
    } catch (e) {
      state.textContent = 'this sweep cannot be read now: ' + e.message;
      state.className = 'error';
      setTimeout(refresh, 2000);
      return;
    }
    state.className = 'hint';
    state.textContent = [sweep.state, sweep.finished + ' of ' + sweep.points + ' points finished',
      sweep.keys.length ? 'swept: ' + sweep.keys.join(', ') : null, sweep.note].filter((x) => x).join(' · ');
    // Best first, by the best epoch's validation accuracy; points without one last.
    const rows = sweep.rows.slice().sort((a, b) =>
      (b.best_valid_accuracy ?? -1) - (a.best_valid_accuracy ?? -1));
    table.replaceChildren(el('tr', {}, ...['#', 'run', ...sweep.keys, 'state', 'epochs',
      'best valid acc.', 'final valid acc.', 'test acc.', 'final train loss', 'seconds']
      .map((h) => el('th', {}, h))));
    rows.forEach((r, k) => {
      table.append(el('tr', { 'data-run': r.run }, el('td', {}, k + 1),
        el('td', { class: 'l' }, el('a', { href: '/runs/' + encodeURIComponent(r.run) + '/' }, r.run)),
        ...r.values.map((v) => el('td', {}, v.text)),
        el('td', { class: 'l state-' + (r.state ?? 'missing') }, r.state ?? 'not started'),
        el('td', {}, r.epochs), el('td', {}, pct(r.best_valid_accuracy)),
        el('td', {}, pct(r.final_valid_accuracy)), el('td', {}, pct(r.test_accuracy)),
        el('td', {}, fixed(4)(r.final_train_loss)), el('td', {}, fixed(1)(r.seconds))));
    });
    // The charts of the points that have started, mounted anew when one starts or ends (the
    // charts follow a run only while it trains).
    const started = sweep.points_detail.filter((p) => p.state !== 'missing');
    const key = started.map((p) => p.run + ':' + p.state).join(',');
    if (key !== chartsFor && started.length) {
      chartsFor = key;
      Charts.mount($('#charts'), started.map((p) => p.run));
    }
    // The figures are drawn when the sweep ends: shown anew when they change.
    const figures = sweep.figures.join(',') + ':' + sweep.state + ':' + sweep.finished;
    if (figures !== figuresFor) {
      figuresFor = figures;
      const stamp = Date.now();
      $('#figures').replaceChildren(...(sweep.figures.length ? [el('h2', {}, 'Figures')] : []),
        ...sweep.figures.map((f) => el('figure', {}, el('img', {
          src: '/sweeps/' + encodeURIComponent(name) + '/' + f + '?v=' + stamp, alt: f, 'data-figure': f,
        }))));
    }
    if (sweep.log) {
      $('#log-text').textContent = sweep.log;
      $('#log').hidden = false;
    }
    controls(sweep);
    if (sweep.state === 'running' || sweep.state === 'queued') setTimeout(refresh, 2000);
  }

  /** Stop while it runs or waits; go on when it has points left. */
  function controls(sweep) {
    const buttons = [];
    const act = (label, url) => {
      const b = el('button', { type: 'button', 'data-action': label.toLowerCase() }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await send('POST', url);
          refresh();
        } catch (e) {
          bar.append(el('span', { class: 'error' }, ' ' + e.message));
        }
      });
      buttons.push(b);
    };
    if (sweep.state === 'running' || sweep.state === 'queued') act('Stop', path + '/stop');
    if (sweep.state === 'stopped') act('Resume', path + '/resume');
    bar.replaceChildren(...buttons);
  }
  refresh();
}

// ---- run page ----

function runPage(name) {
  const evolution = weightsForming(name);
  const table = $('#epochs');
  const state = $('#state');
  async function refresh() {
    let run;
    try {
      run = await getJSON('/api/runs/' + encodeURIComponent(name));
    } catch (e) {
      state.textContent = 'this run cannot be read now: ' + e.message;
      state.className = 'error';
      return;
    }
    state.className = 'hint';
    // The run in a line: state, model, optimizer, epochs, accuracy, how it ended.
    state.textContent = [stateText(run) + (run.note ? ' (' + run.note + ')' : ''),
      run.model, run.optimizer && run.optimizer + (run.lr == null ? '' : ' lr ' + run.lr),
      run.epochs_done + ' of ' + (run.epochs_planned ?? '?') + ' epochs',
      run.test_accuracy == null ? null : 'test accuracy ' + pct(run.test_accuracy),
      run.outcome].filter((x) => x).join(' · ');
    // Which set the valid columns come from: the test set, or the run's hold-out.
    const on = run.validation === 'test set' ? 'test set' : 'hold-out';
    table.replaceChildren(el('tr', {}, ...['epoch', 'train loss', 'train accuracy',
      'valid loss (' + on + ')', 'valid accuracy (' + on + ')', 'seconds', 'training seconds']
      .map((h) => el('th', {}, h))));
    for (const e of run.epochs) {
      table.append(el('tr', {}, el('td', {}, e.epoch), el('td', {}, fixed(4)(e.train_loss)),
        el('td', {}, pct(e.train_acc)), el('td', {}, fixed(4)(e.valid_loss)),
        el('td', {}, pct(e.valid_acc)), el('td', {}, fixed(2)(e.seconds)),
        el('td', {}, fixed(2)(e.train_seconds))));
    }
    controls(run);
    evolution.update(run.snapshots, run.state);
    if (run.has_log) showLog();
    if (run.state === 'training' || run.state === 'queued') setTimeout(refresh, 2000);
  }

  const bar = $('#controls');
  const path = '/api/runs/' + encodeURIComponent(name);
  /** Stop, resume, delete and "run again", as the run's state allows. */
  function controls(run) {
    const buttons = [];
    const act = (label, method, url, confirmText) => {
      const b = el('button', { type: 'button', 'data-action': label.toLowerCase() }, label);
      b.addEventListener('click', async () => {
        if (confirmText && !confirm(confirmText)) return;
        b.disabled = true;
        try {
          await send(method, url);
          if (method === 'DELETE') { location.href = '/'; return; }
          refresh();
        } catch (e) {
          bar.append(el('span', { class: 'error' }, ' ' + e.message));
        }
      });
      buttons.push(b);
    };
    // Only a run this server started can be stopped from here; one started in a terminal is
    // stopped there (Ctrl-C), where its output is.
    if (run.launched) act('Stop', 'POST', path + '/stop');
    else if (run.state === 'training') buttons.push(el('span', { class: 'hint' }, 'started outside this web app: stop it where it runs (Ctrl-C)'));
    if (run.state === 'stopped' || run.state === 'interrupted') act('Resume', 'POST', path + '/resume');
    if (run.state !== 'training' && run.state !== 'queued') {
      act('Delete', 'DELETE', path, 'Delete the run ' + name + ' and all its files?');
    }
    if (run.config) {
      buttons.push(el('a', { href: '/new?run=' + encodeURIComponent(name) }, 'Run again with changes'));
    }
    bar.replaceChildren(...buttons);
  }

  async function showLog() {
    try {
      const response = await fetch(path + '/log', { cache: 'no-store' });
      if (!response.ok) return;
      $('#log-text').textContent = await response.text();
      $('#log').hidden = false;
    } catch (e) { /* no log: the run was trained from a terminal */ }
  }
  refresh();
  Charts.mount($('#charts'), [name]);
  drawPanel(() => name);
}

// ---- compare page ----

function comparePage() {
  const charts = $('#charts');
  if (charts) Charts.mount(charts, JSON.parse(charts.dataset.runs));
}

// ---- new run page ----

async function newRunPage() {
  const source = $('#source');
  const nameBox = $('#run-name');
  const text = $('#config');
  const check = $('#check');
  const launch = $('#launch');
  const status = $('#new-status');
  let configs = [];
  let runs = [];
  let sweeps = [];
  try {
    [configs, runs, sweeps] = await Promise.all([getJSON('/api/configs'), getJSON('/api/runs'),
      getJSON('/api/sweeps')]);
  } catch (e) {
    status.textContent = 'cannot list the configs and runs: ' + e.message;
    status.className = 'error';
  }
  const taken = new Set(runs.map((r) => r.name).concat(sweeps.map((w) => w.name)));
  /** `base`, or `base-2`, `base-3`, … : the first name no run has. */
  const freeName = (base) => {
    let n = 1;
    let name = base;
    while (taken.has(name)) name = base + '-' + ++n;
    return name;
  };
  const files = el('optgroup', { label: 'config files' });
  for (const c of configs) files.append(el('option', { value: 'config:' + c.file }, c.file));
  const own = el('optgroup', { label: "runs' own configs" });
  for (const r of runs.filter((r) => r.state !== 'queued')) own.append(el('option', { value: 'run:' + r.name }, r.name));
  source.append(files, own);
  const params = new URLSearchParams(location.search);
  if (params.get('run')) source.value = 'run:' + params.get('run');
  else if (params.get('config')) source.value = 'config:' + params.get('config');

  async function load() {
    const [kind, id] = [source.value.slice(0, source.value.indexOf(':')), source.value.slice(source.value.indexOf(':') + 1)];
    if (kind === 'config') {
      text.value = configs.find((c) => c.file === id)?.text ?? '';
      nameBox.value = freeName(id.replace(/\.toml$/, ''));
    } else if (kind === 'run') {
      try {
        text.value = (await getJSON('/api/runs/' + encodeURIComponent(id))).config ?? '';
      } catch (e) {
        text.value = '';
        check.textContent = 'cannot read the run: ' + e.message;
      }
      nameBox.value = freeName(id);
    }
    validate();
  }

  let pending = null;
  let valid = false;
  /** Whether the text is a sweep file: a config with a [sweep] table (the server decides). */
  const isSweep = () => /^\s*\[\s*sweep\s*[\].]/m.test(text.value);
  /**
   * Asks the server to check the config as `mnist train` would (a sweep as `mnist sweep`
   * would), a moment after the last key.
   */
  function validate() {
    clearTimeout(pending);
    valid = false;
    launch.disabled = true;
    const sweep = isSweep();
    launch.textContent = sweep ? 'Launch the sweep' : 'Launch';
    pending = setTimeout(async () => {
      try {
        const query = '?name=' + encodeURIComponent(nameBox.value);
        if (sweep) {
          const checked = await send('POST', '/api/sweeps/check' + query, text.value, 'application/toml');
          check.className = 'hint ok';
          check.textContent = '✓ a sweep of ' + checked.points.length + ' points over ' +
            checked.keys.join(', ') + ', one run each: ' +
            checked.points.map((p) => p.run + ' (' + p.values + ')').join(', ');
          valid = true;
          launch.disabled = !valid || !nameBox.value;
          return;
        }
        const plan = await send('POST', '/api/configs/check' + query, text.value, 'application/toml');
        check.className = 'hint ok';
        check.textContent = '✓ ' + [plan.model, plan.training, plan.epochs + ' epochs',
          'validated on the ' + plan.validation].join(' · ');
        valid = true;
      } catch (e) {
        check.className = 'error';
        check.textContent = e.message;
      }
      launch.disabled = !valid || !nameBox.value;
    }, 250);
  }
  source.addEventListener('change', load);
  text.addEventListener('input', validate);
  nameBox.addEventListener('input', validate);
  $('#new-run').addEventListener('submit', async (event) => {
    event.preventDefault();
    launch.disabled = true;
    try {
      const body = JSON.stringify({ name: nameBox.value, config: text.value });
      if (isSweep()) {
        await send('POST', '/api/sweeps', body);
        location.href = '/sweeps/' + encodeURIComponent(nameBox.value) + '/';
        return;
      }
      await send('POST', '/api/runs', body);
      location.href = '/runs/' + encodeURIComponent(nameBox.value) + '/';
    } catch (e) {
      status.textContent = 'not launched: ' + e.message;
      status.className = 'error';
      launch.disabled = false;
    }
  });
  if (source.value) load();
}

// ---- draw page ----

async function drawPage() {
  const select = $('#run-select');
  try {
    const runs = (await getJSON('/api/runs')).filter((r) => r.has_model);
    for (const r of runs) select.append(el('option', { value: r.name }, r.name + ' (' + r.model + ')'));
    // The most recently finished run (its model.bpk written last), unless ?run= names one.
    const finished = runs.filter((r) => r.state === 'finished' && r.model_time != null);
    const latest = finished.reduce((a, r) => (a && a.model_time >= r.model_time ? a : r), null);
    if (latest) select.value = latest.name;
    const wanted = new URLSearchParams(location.search).get('run');
    if (wanted) select.value = wanted;
    if (!runs.length) $('#draw-error').textContent = 'No trained run yet: mnist train configs/mlp.toml';
  } catch (e) {
    $('#draw-error').textContent = 'cannot list the runs: ' + e.message;
  }
  drawPanel(() => select.value);
}

// ---- the draw panel ----

function drawPanel(runName) {
  const canvas = $('#canvas');
  const ctx = canvas.getContext('2d');
  const error = $('#draw-error');
  let drawing = false;
  // The last drawing or image sent, [body, type]: what another run is asked about.
  let lastInput = null;

  function clear() {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    $('#prediction').textContent = '–';
    $('#bars').replaceChildren();
    $('#prepared').getContext('2d').clearRect(0, 0, 28, 28);
    error.textContent = '';
    $('#explanation').hidden = true;
    window.lastPrediction = null;
    lastInput = null;
  }
  clear();
  $('#clear').addEventListener('click', clear);

  // Ink like a felt pen on paper: the preparation inverts and boxes it as MNIST did.
  const point = (e) => {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * canvas.width / box.width, (e.clientY - box.top) * canvas.height / box.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 18;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    const [x, y] = point(e);
    ctx.moveTo(x, y);
    ctx.lineTo(x + 0.01, y);
    ctx.stroke();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const [x, y] = point(e);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    canvas.toBlob((blob) => predict(blob, 'image/png'), 'image/png');
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  // Dropping an image file anywhere on the page predicts it.
  document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const file = e.dataTransfer.files[0];
    if (!file) return;
    predict(file, file.type || 'application/octet-stream');
    // Shown on the canvas too, fitted to it, where the browser can decode it.
    createImageBitmap(file).then((image) => {
      const scale = Math.min(canvas.width / image.width, canvas.height / image.height);
      const [w, h] = [image.width * scale, image.height * scale];
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(image, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
    }, () => {});
  });

  // Answers may arrive out of order; only the latest request's answer is shown.
  let latest = 0;
  window.pendingPredictions = 0;
  async function predict(body, type) {
    lastInput = [body, type];
    const name = runName();
    if (!name) { error.textContent = 'choose a run first'; return; }
    const ticket = ++latest;
    window.pendingPredictions++;
    try {
      const response = await fetch('/api/runs/' + encodeURIComponent(name) + '/predict?explain=true', {
        method: 'POST', headers: { 'Content-Type': type }, body,
      });
      const result = await readJSON(response);
      if (ticket !== latest) return;
      error.textContent = '';
      show(result);
    } catch (e) {
      if (ticket === latest) error.textContent = e.message;
    } finally {
      window.pendingPredictions--;
    }
  }

  function show(result) {
    window.lastPrediction = result;
    $('#prediction').textContent = result.prediction;
    const bars = $('#bars');
    bars.replaceChildren();
    result.probabilities.forEach((p, digit) => {
      const bar = el('div', { class: 'bar' + (digit === result.prediction ? ' top' : ''), 'data-digit': digit },
        el('span', {}, digit), el('div', { style: 'width:' + (280 * p).toFixed(1) + 'px' }), el('em', {}, pct(p)));
      bars.append(bar);
    });
    const image = new ImageData(28, 28);
    result.prepared.forEach((v, i) => { image.data.set([v, v, v, 255], 4 * i); });
    $('#prepared').getContext('2d').putImageData(image, 0, 0);
    if (result.explanation) explain(result.explanation, result.prepared);
  }

  // Choosing another run predicts and explains the last drawing or image anew.
  const select = $('#run-select');
  if (select) select.addEventListener('change', () => { if (lastInput) predict(...lastInput); });
}

// ---- the weights forming (the run page's snapshots) ----

/**
 * The run's weight snapshots under a slider and a play button: the linear model's ten output
 * templates, or the input weights of the MLP's unit that feeds each digit most.
 * `update(count, state)` reads the list of snapshots again when the run has another number of
 * them (a training run adds to it) or another state (a finished MLP's shown units are final);
 * a run without any keeps the section hidden.
 */
function weightsForming(name) {
  const section = $('#evolution');
  const slider = $('#snapshot-slider');
  const caption = $('#snapshot-caption');
  const play = $('#play');
  const base = '/api/runs/' + encodeURIComponent(name) + '/snapshots';
  const frames = new Map();
  let list = null;
  let timer = null;
  let wanted = 0;

  async function frame(step) {
    if (!frames.has(step)) frames.set(step, getJSON(base + '/' + step));
    return frames.get(step);
  }

  async function show(k) {
    const point = list.snapshots[k];
    if (!point) return;
    wanted = k;
    const f = await frame(point.step);
    if (wanted !== k) return;
    // One scale per frame: the weights grow as training goes on.
    const limit = Math.max(...f.templates.map(largest));
    $('#templates').replaceChildren(...f.templates.map((t, d) => el('figure', { 'data-digit': d },
      heatmap(t, { limit }), el('figcaption', {}, f.units ? d + ': unit ' + f.units[d] : 'digit ' + d))));
    const when = point.step === 0 ? 'before training'
      : 'after ' + point.step.toLocaleString('en') + ' steps, ' + (point.epoch_end ? 'end of epoch ' : 'epoch ') + point.epoch;
    caption.textContent = [when, point.loss == null ? null : 'batch loss ' + point.loss.toFixed(3),
      point.accuracy == null ? null : 'accuracy ' + pct(point.accuracy), 'scale ±' + limit.toFixed(3)]
      .filter((x) => x).join(' · ');
    caption.dataset.step = point.step;
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = 'Play';
  }

  play.addEventListener('click', () => {
    if (timer) { stop(); return; }
    if (Number(slider.value) >= list.snapshots.length - 1) slider.value = 0;
    play.textContent = 'Pause';
    show(Number(slider.value));
    timer = setInterval(() => {
      const next = Number(slider.value) + 1;
      if (next >= list.snapshots.length) { stop(); return; }
      slider.value = next;
      show(next);
    }, 600);
  });
  slider.addEventListener('input', () => { stop(); show(Number(slider.value)); });

  let readFor = null;
  async function update(count, state) {
    if (!count || readFor === count + ':' + state) return;
    readFor = count + ':' + state;
    let fresh;
    try {
      fresh = await getJSON(base);
    } catch (e) {
      $('#evolution-hint').textContent = 'the snapshots cannot be read now: ' + e.message;
      return;
    }
    const atEnd = !list || Number(slider.value) >= list.snapshots.length - 1;
    const grew = !list || fresh.snapshots.length !== list.snapshots.length
      || String(fresh.units) !== String(list.units);
    // A training MLP's shown units follow its newest snapshot: the frames change with them.
    if (list && String(fresh.units) !== String(list.units)) frames.clear();
    list = fresh;
    section.hidden = false;
    $('#evolution-hint').textContent = (list.model === 'linear'
      ? "The linear model's ten output templates (weights into each digit), "
      : 'The input weights of the hidden unit that feeds each digit most (as hidden_units.png), ')
      + 'from their random start: ' + list.snapshots.length + ' snapshots at log-spaced steps and every epoch\'s end.';
    slider.max = list.snapshots.length - 1;
    if (grew) {
      if (atEnd) slider.value = list.snapshots.length - 1;
      show(Number(slider.value));
    }
  }
  return { update };
}

// ---- why the model answered so (the draw panel's explanation) ----

/** Blue (−1) through white (0) to red (+1), as the figures' colour scale (report's `diverging`). */
function diverging(t) {
  const s = Math.min(1, Math.abs(t));
  const end = t < 0 ? [33, 102, 172] : [178, 24, 43];
  return end.map((e) => Math.round(255 + (e - 255) * s));
}

const largest = (values) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;

/** A `width`×`height` canvas (28×28 by default) of `values` on a symmetric scale. */
function heatmap(values, { width = 28, height = 28, limit = largest(values), intensity = false } = {}) {
  const canvas = el('canvas', { width, height, class: 'map' });
  const image = new ImageData(width, height);
  values.forEach((v, i) => {
    const rgb = intensity ? Array(3).fill(Math.round(255 * (1 - Math.min(1, v / limit)))) : diverging(v / limit);
    image.data.set([...rgb, 255], 4 * i);
  });
  canvas.getContext('2d').putImageData(image, 0, 0);
  return canvas;
}

/** The saliency map over the image the model saw: the ink in grey, the gradient in colour. */
function saliencyMap(saliency, prepared) {
  const canvas = $('#saliency');
  const image = new ImageData(28, 28);
  const limit = largest(saliency);
  saliency.forEach((s, i) => {
    const grey = 255 - 0.45 * prepared[i];
    const alpha = Math.min(1, Math.abs(s) / limit);
    const colour = diverging(Math.sign(s));
    image.data.set([...colour.map((c) => Math.round(grey * (1 - alpha) + c * alpha)), 255], 4 * i);
  });
  canvas.getContext('2d').putImageData(image, 0, 0);
  canvas.dataset.limit = limit;
}

const signed = (x) => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(2);

function explain(e, prepared) {
  const panel = $('#explanation');
  panel.hidden = false;
  panel.dataset.model = e.model;
  $('#why-class').textContent = e.predicted;
  saliencyMap(e.saliency, prepared);
  $('#saliency-caption').textContent = '∂logit[' + e.predicted + '] / ∂pixel over the image the model saw: '
    + 'red where more ink raises it, blue where more ink lowers it';
  const detail = $('#explain-detail');
  detail.replaceChildren();
  if (e.model === 'linear') {
    // One scale for both maps, so that their colours compare.
    const limit = Math.max(largest(e.evidence[e.predicted]), largest(e.evidence[e.runner_up]));
    for (const [c, role] of [[e.predicted, 'answer'], [e.runner_up, 'runner-up']]) {
      const sum = e.evidence[c].reduce((a, v) => a + v, 0);
      detail.append(el('figure', { class: 'evidence', 'data-class': c, 'data-sum': sum, 'data-bias': e.bias[c] },
        heatmap(e.evidence[c], { limit }),
        el('figcaption', {}, 'evidence for ' + c + ' (' + role + '): weight × pixel, red for, blue against. '
          + 'Σ ' + signed(sum) + ', bias ' + signed(e.bias[c]) + ' → logit ' + signed(e.logits[c]))));
    }
  } else if (e.model === 'mlp') {
    const total = e.contributions.reduce((a, v) => a + v, 0);
    const note = el('p', { class: 'hint' }, 'all ' + e.contributions.length + ' hidden units: Σ activation × weight '
      + signed(total) + ', bias ' + signed(e.output_bias) + ' → logit ' + signed(e.logits[e.predicted]));
    const list = el('div', { class: 'units' });
    const toggle = el('button', { type: 'button', id: 'runner-up-toggle' });
    let runnerUp = false;
    const showUnits = () => {
      const [units, c] = runnerUp ? [e.runner_up_units, e.runner_up] : [e.units, e.predicted];
      toggle.textContent = runnerUp ? 'show the units for ' + e.predicted : 'show the units for the runner-up, ' + e.runner_up;
      list.dataset.class = c;
      const scale = largest(units.map((u) => u.contribution));
      list.replaceChildren(el('h4', {}, 'the hidden units that pushed ' + c + ' up most: input weights, activation × weight'),
        ...units.map((u) => el('div', { class: 'unit', 'data-unit': u.unit, 'data-contribution': u.contribution },
          heatmap(u.template),
          el('div', { class: 'contribution' }, el('div', { style: 'width:' + (100 * Math.max(0, u.contribution) / scale).toFixed(1) + '%' })),
          el('span', {}, 'unit ' + u.unit + ': ' + u.activation.toFixed(2) + ' × w = ' + signed(u.contribution)))));
    };
    toggle.addEventListener('click', () => { runnerUp = !runnerUp; showUnits(); });
    showUnits();
    detail.append(note, toggle, list);
  } else if (e.model === 'cnn') {
    const m = e.feature_maps;
    const size = m.height * m.width;
    const intensity = m.values.every((v) => v >= 0);
    const limit = largest(m.values);
    const maps = el('div', { class: 'maps', 'data-channels': m.channels });
    for (let k = 0; k < m.channels; k++) {
      maps.append(heatmap(m.values.slice(k * size, (k + 1) * size), { width: m.width, height: m.height, limit, intensity }));
    }
    detail.append(el('h4', {}, "the first convolution's " + m.channels + ' feature maps of the image'), maps);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const page = document.body.dataset.page;
  if (page === 'runs') { runsPage(); sweepList(); }
  else if (page === 'sweep') sweepPage(document.body.dataset.run);
  else if (page === 'run') runPage(document.body.dataset.run);
  else if (page === 'draw') drawPage();
  else if (page === 'compare') comparePage();
  else if (page === 'new') newRunPage();
});
