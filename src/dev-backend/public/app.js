/* global document, window, location, EventSource, fetch, Chart */
// The dev backend's live page. No framework and no build step: it opens the
// event stream (/events/stream), loads the snapshot (/api/dev/summary), then
// applies each message whose `seq` is newer than the snapshot. Every value
// from the server reaches the DOM through textContent or an attribute, never
// through innerHTML.
'use strict';

(function () {
  const TABLE_ROWS = 200;
  const RENDER_DELAY_MS = 100;
  // Gauges and times are averaged per bucket; everything else is a count and is summed.
  const MEAN_METRICS = new Set(['response_time', 'threat_level', 'block_rate', 'cache_hit_rate']);
  const PALETTE = ['#3b6fd8', '#d9583b', '#2e9d6a', '#9c4fd0', '#d6a01e', '#1a9bb0', '#c8407f', '#6b7d2a', '#7a5a3a', '#4b5563', '#e07b39', '#5f8fd9'];

  const model = {
    seq: 0,
    loaded: false,
    generation: 0,
    pending: [],
    bucketMs: 5000,
    windowMs: 600000,
    recentLimit: 1000,
    clockOffset: 0,
    events: [],
    eventBuckets: new Map(),
    metricBuckets: new Map(),
    heartbeats: new Map(),
    rules: null,
    stats: null,
  };
  const colors = new Map();
  const $ = (id) => document.getElementById(id);

  // ---------- model ----------

  function serverNow() {
    return Date.now() + model.clockOffset;
  }

  function bucketOf(at) {
    return Math.floor(at / model.bucketMs) * model.bucketMs;
  }

  function windowBuckets() {
    const last = bucketOf(serverNow());
    const count = Math.round(model.windowMs / model.bucketMs);
    const out = [];
    for (let i = count - 1; i >= 0; i -= 1) out.push(last - i * model.bucketMs);
    return out;
  }

  function pruneBuckets() {
    const first = windowBuckets()[0];
    for (const t of model.eventBuckets.keys()) if (t < first) model.eventBuckets.delete(t);
    for (const t of model.metricBuckets.keys()) if (t < first) model.metricBuckets.delete(t);
  }

  function addEventCounts(t, counts) {
    const perType = model.eventBuckets.get(t) || new Map();
    for (const [type, n] of Object.entries(counts)) perType.set(type, (perType.get(type) || 0) + n);
    model.eventBuckets.set(t, perType);
  }

  function addMetricAggregates(t, metrics) {
    const perType = model.metricBuckets.get(t) || new Map();
    for (const [type, agg] of Object.entries(metrics)) {
      const into = perType.get(type) || { sum: 0, count: 0 };
      into.sum += agg.sum;
      into.count += agg.count;
      perType.set(type, into);
    }
    model.metricBuckets.set(t, perType);
  }

  function applySummary(summary) {
    model.seq = summary.seq;
    model.bucketMs = summary.bucket_ms;
    model.windowMs = summary.window_ms;
    model.recentLimit = summary.recent_limit;
    model.clockOffset = summary.now - Date.now();
    model.stats = summary.stats;
    model.events = summary.events.slice();
    model.eventBuckets = new Map();
    model.metricBuckets = new Map();
    for (const b of summary.event_series) addEventCounts(b.t, b.values);
    for (const b of summary.metric_series) addMetricAggregates(b.t, b.values);
    model.heartbeats = new Map(summary.heartbeats.map((h) => [h.install_id, h]));
    model.rules = summary.rules;
  }

  function applyMessage(type, msg) {
    if (msg.seq <= model.seq) return; // already in the snapshot
    model.seq = msg.seq;
    if (msg.stats) model.stats = msg.stats;
    if (type === 'batch') {
      const t = bucketOf(msg.at);
      if (msg.events.length > 0) {
        model.events.push(...msg.events);
        if (model.events.length > model.recentLimit) model.events.splice(0, model.events.length - model.recentLimit);
      }
      if (Object.keys(msg.counts).length > 0) addEventCounts(t, msg.counts);
      if (Object.keys(msg.metrics).length > 0) addMetricAggregates(t, msg.metrics);
    } else if (type === 'status') {
      model.heartbeats.delete(msg.heartbeat.install_id);
      model.heartbeats.set(msg.heartbeat.install_id, msg.heartbeat);
    } else if (type === 'rules') {
      model.rules = msg.rules;
    } else if (type === 'reset') {
      model.events = [];
      model.eventBuckets = new Map();
      model.metricBuckets = new Map();
      model.heartbeats = new Map();
    }
    scheduleRender();
  }

  // ---------- connection ----------

  function setConnection(state) {
    const badge = $('conn-state');
    badge.dataset.state = state;
    badge.textContent = state;
  }

  function loadSummary() {
    const generation = ++model.generation;
    model.loaded = false;
    model.pending = [];
    fetch('/api/dev/summary', { cache: 'no-store' })
      .then((res) => {
        if (!res.ok) throw new Error('summary: HTTP ' + res.status);
        return res.json();
      })
      .then((summary) => {
        if (generation !== model.generation) return; // a newer connection took over
        applySummary(summary);
        model.loaded = true;
        const queued = model.pending;
        model.pending = [];
        for (const [type, msg] of queued) applyMessage(type, msg);
        document.body.dataset.ready = 'true';
        renderNow();
      })
      .catch(() => {
        if (generation === model.generation) setTimeout(loadSummary, 2000);
      });
  }

  function connect() {
    const source = new EventSource('/events/stream');
    source.addEventListener('open', () => {
      setConnection('live');
      loadSummary();
    });
    source.addEventListener('error', () => {
      model.generation += 1;
      model.loaded = false;
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (or is gone for good): try again later ourselves.
        setConnection('offline');
        setTimeout(connect, 3000);
      } else {
        setConnection('connecting');
      }
    });
    for (const type of ['batch', 'status', 'rules', 'stats', 'reset']) {
      source.addEventListener(type, (e) => {
        const msg = JSON.parse(e.data);
        if (model.loaded) applyMessage(type, msg);
        else model.pending.push([type, msg]);
      });
    }
  }

  // ---------- formatting ----------

  function colorOf(key) {
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    return colors.get(key);
  }

  function pad(n, width) {
    return String(n).padStart(width || 2, '0');
  }

  function clock(at, withMs) {
    const d = new Date(at);
    const base = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    return withMs ? base + '.' + pad(d.getMilliseconds(), 3) : base;
  }

  function duration(seconds) {
    if (typeof seconds !== 'number') return '–';
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h > 0) return h + 'h ' + pad(m) + 'm';
    if (m > 0) return m + 'm ' + pad(s % 60) + 's';
    return s + 's';
  }

  function num(v) {
    return typeof v === 'number' ? String(v) : '–';
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  // ---------- rendering ----------

  let renderTimer = null;

  function scheduleRender() {
    if (renderTimer !== null) return;
    renderTimer = setTimeout(renderNow, RENDER_DELAY_MS);
  }

  function renderNow() {
    if (renderTimer !== null) clearTimeout(renderTimer);
    renderTimer = null;
    renderCounters();
    renderTypeOptions();
    renderTable();
    renderCharts();
    renderHeartbeats();
    renderRules();
    document.body.dataset.seq = String(model.seq);
  }

  function renderCounters() {
    const s = model.stats;
    if (!s) return;
    $('backend-url').textContent = location.origin;
    $('count-events').textContent = String(s.eventsReceived - s.duplicateEvents);
    $('count-duplicates').textContent = String(s.duplicateEvents);
    $('count-metrics').textContent = String(s.metricsReceived);
    $('count-statuses').textContent = String(s.statuses);
    $('count-requests').textContent = String(s.requests);
    const byStatus = s.rejected.byStatus;
    const rejected = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const rejectedCell = $('count-rejected');
    rejectedCell.textContent = String(rejected);
    rejectedCell.title = Object.entries(byStatus).map(([k, n]) => k + ': ' + n).join(', ');
  }

  function knownTypes() {
    const types = new Set();
    for (const e of model.events) types.add(e.event_type);
    for (const perType of model.eventBuckets.values()) for (const t of perType.keys()) types.add(t);
    return [...types].sort();
  }

  function renderTypeOptions() {
    const select = $('type-filter');
    const selected = select.value;
    const types = knownTypes();
    if (selected && !types.includes(selected)) types.push(selected);
    const current = [...select.options].slice(1).map((o) => o.value);
    if (current.join('\n') === types.join('\n')) return;
    const options = [el('option', 'all types', { value: '' })];
    for (const t of types) options.push(el('option', t, { value: t }));
    select.replaceChildren(...options);
    select.value = selected;
  }

  function renderTable() {
    const type = $('type-filter').value;
    const ip = $('ip-filter').value.trim().toLowerCase();
    const rows = [];
    for (let i = model.events.length - 1; i >= 0 && rows.length < TABLE_ROWS; i -= 1) {
      const e = model.events[i];
      if (type && e.event_type !== type) continue;
      if (ip && !e.ip_address.toLowerCase().includes(ip)) continue;
      rows.push(e);
    }
    const trs = rows.map((e) => {
      const tr = el('tr', null, { 'data-type': e.event_type, 'data-ip': e.ip_address });
      tr.append(
        el('td', clock(e.at, true), { title: 'event timestamp: ' + (e.timestamp || '–') }),
        el('td', e.event_type),
        el('td', e.ip_address),
        el('td', e.action_taken),
        el('td', e.endpoint === null ? '' : (e.method ? e.method + ' ' : '') + e.endpoint),
        el('td', e.reason),
      );
      return tr;
    });
    $('events-table').tBodies[0].replaceChildren(...trs);
    $('events-empty').classList.toggle('hidden', model.events.length > 0);
    const filtered = type || ip;
    $('events-shown').textContent = model.events.length === 0 ? '' : rows.length + (filtered ? ' matching' : '') + ' shown of the latest ' + model.events.length;
  }

  let eventsChart = null;
  let metricsChart = null;

  function makeCharts() {
    const common = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { position: 'bottom' } },
    };
    eventsChart = new Chart($('events-chart'), {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: Object.assign({}, common, {
        scales: {
          x: { stacked: true, ticks: { maxTicksLimit: 12, maxRotation: 0 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'events' } },
        },
      }),
    });
    metricsChart = new Chart($('metrics-chart'), {
      type: 'line',
      data: { labels: [], datasets: [] },
      options: Object.assign({}, common, {
        spanGaps: true,
        scales: {
          x: { ticks: { maxTicksLimit: 12, maxRotation: 0 } },
          y: { beginAtZero: true, title: { display: true, text: 'sum per bucket' } },
          y1: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'mean per bucket' } },
        },
      }),
    });
  }

  // Updates datasets in place, so a series the user hid in the legend stays hidden.
  function syncDatasets(chart, series) {
    const datasets = chart.data.datasets;
    for (let i = datasets.length - 1; i >= 0; i -= 1) if (!series.has(datasets[i].label)) datasets.splice(i, 1);
    for (const [label, spec] of series) {
      const existing = datasets.find((d) => d.label === label);
      if (existing) Object.assign(existing, spec);
      else datasets.push(Object.assign({ label: label }, spec));
    }
    datasets.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  }

  function renderCharts() {
    if (typeof Chart === 'undefined') return;
    if (eventsChart === null) makeCharts();
    pruneBuckets();
    const buckets = windowBuckets();
    const labels = buckets.map((t) => clock(t, false));

    const eventSeries = new Map();
    for (const type of knownTypesInBuckets(model.eventBuckets)) {
      const color = colorOf('event:' + type);
      eventSeries.set(type, {
        data: buckets.map((t) => (model.eventBuckets.get(t) && model.eventBuckets.get(t).get(type)) || 0),
        backgroundColor: color,
        borderColor: color,
      });
    }
    eventsChart.data.labels = labels;
    syncDatasets(eventsChart, eventSeries);
    eventsChart.update('none');

    const metricSeries = new Map();
    for (const type of knownTypesInBuckets(model.metricBuckets)) {
      const mean = MEAN_METRICS.has(type);
      const color = colorOf('metric:' + type);
      metricSeries.set(type, {
        data: buckets.map((t) => {
          const agg = model.metricBuckets.get(t) && model.metricBuckets.get(t).get(type);
          if (!agg || agg.count === 0) return null;
          return mean ? agg.sum / agg.count : agg.sum;
        }),
        yAxisID: mean ? 'y1' : 'y',
        borderColor: color,
        backgroundColor: color,
        pointRadius: 3,
      });
    }
    metricsChart.data.labels = labels;
    syncDatasets(metricsChart, metricSeries);
    metricsChart.update('none');
  }

  function knownTypesInBuckets(buckets) {
    const types = new Set();
    for (const perType of buckets.values()) for (const t of perType.keys()) types.add(t);
    return [...types].sort();
  }

  function renderHeartbeats() {
    const now = serverNow();
    const rows = [...model.heartbeats.values()]
      .sort((a, b) => b.last_seen - a.last_seen)
      .map((h) => {
        const tr = el('tr', null, { 'data-install-id': h.install_id });
        const status = el('td');
        status.append(el('span', h.status || '–', { class: 'badge', 'data-status': h.status }));
        tr.append(
          el('td', h.install_id),
          status,
          el('td', duration(h.uptime)),
          el('td', num(h.events_sent)),
          el('td', num(h.events_failed)),
          el('td', num(h.buffer_size)),
          el('td', h.errors.length ? h.errors.join('; ') : '–'),
          el('td', Math.max(0, Math.round((now - h.last_seen) / 1000)) + ' s ago', { title: clock(h.last_seen, true) }),
        );
        return tr;
      });
    $('heartbeats').tBodies[0].replaceChildren(...rows);
    $('heartbeats-empty').classList.toggle('hidden', rows.length > 0);
  }

  function renderRules() {
    const r = model.rules;
    const pre = $('rules-json');
    if (r === null) {
      $('rules-version').textContent = '–';
      $('rules-etag').textContent = '–';
      pre.textContent = 'No rules served: GET /api/v1/rules answers 404.';
      pre.classList.add('muted');
      return;
    }
    $('rules-version').textContent = r.version === null ? '–' : String(r.version);
    $('rules-etag').textContent = r.etag;
    pre.textContent = JSON.stringify(r.rules, null, 2);
    pre.classList.remove('muted');
  }

  // ---------- start ----------

  function start() {
    $('backend-url').textContent = location.origin;
    $('type-filter').addEventListener('change', renderTable);
    $('ip-filter').addEventListener('input', renderTable);
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    // The charts' time axis moves on even when nothing arrives; "last seen" ages too.
    setInterval(() => {
      if (!model.loaded) return;
      renderCharts();
      renderHeartbeats();
    }, 1000);
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
  window.guardDevPage = { model: model };
})();
