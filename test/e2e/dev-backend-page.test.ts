// The dev backend's live page in headless Chromium: a real DevBackend, a real
// HTTPTransport sending to it, and the page updating without a reload (table,
// filters, both charts, heartbeats, rules). Screenshots go to test-output/e2e/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { resolveConfig } from '../../src/config.js';
import { DEFAULT_DEV_API_KEY, DevBackend } from '../../src/dev-backend/index.js';
import { SecurityEvent, SecurityMetric } from '../../src/models/index.js';
import { HTTPTransport } from '../../src/transport/index.js';
import { launchChromium } from '../helpers/chromium.js';

const OUT_DIR = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const INSTALL_ID = '3f6c2a10-7e55-4c1b-9d0e-5b8a9c4d2e11';
const IP_A = '203.0.113.7';
const IP_B = '198.51.100.9';
// Must reach the DOM as text, never as markup.
const HOSTILE_REASON = '<img src=x onerror="window.__xss=1">pattern matched';

// The tsconfig has no DOM lib: callbacks that run in the page reach its globals through `globalThis` cast to this.
interface ChartLike {
  data: { labels: unknown[]; datasets: { label: string; yAxisID?: string; data: (number | null)[] }[] };
}
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null; querySelectorAll(selector: string): { length: number } };
  Chart: { getChart(canvas: unknown): ChartLike };
  __loadedOnce?: boolean;
  __xss?: number;
}

interface Sent {
  type: string;
  ip: string;
  action: string;
  endpoint: string;
  method: string;
  reason: string;
}

const FIRST_BATCH: Sent[] = [
  { type: 'rate_limited', ip: IP_A, action: 'request_blocked', endpoint: '/api/login', method: 'POST', reason: 'Rate limit exceeded' },
  { type: 'rate_limited', ip: IP_A, action: 'request_blocked', endpoint: '/api/login', method: 'POST', reason: 'Rate limit exceeded' },
  { type: 'ip_banned', ip: IP_B, action: 'ip_banned', endpoint: '/admin', method: 'GET', reason: 'Too many violations' },
  { type: 'suspicious_request', ip: IP_A, action: 'logged', endpoint: '/search', method: 'GET', reason: HOSTILE_REASON },
];
const SECOND_BATCH: Sent[] = [
  { type: 'suspicious_request', ip: IP_A, action: 'logged', endpoint: '/search', method: 'GET', reason: 'sql injection pattern' },
  { type: 'suspicious_request', ip: IP_B, action: 'logged', endpoint: '/upload', method: 'PUT', reason: 'path traversal' },
  { type: 'rate_limited', ip: IP_B, action: 'request_blocked', endpoint: '/api/items', method: 'GET', reason: 'Rate limit exceeded' },
  { type: 'ip_banned', ip: IP_B, action: 'ip_banned', endpoint: '/admin', method: 'GET', reason: 'Too many violations' },
  { type: 'suspicious_request', ip: IP_A, action: 'logged', endpoint: '/search', method: 'GET', reason: 'xss pattern' },
];
const ALL = [...FIRST_BATCH, ...SECOND_BATCH];

function toEvents(sent: Sent[]): SecurityEvent[] {
  return sent.map(
    (s) => new SecurityEvent({ eventType: s.type, ipAddress: s.ip, actionTaken: s.action, endpoint: s.endpoint, method: s.method, reason: s.reason }),
  );
}

/** The table's rows as [type, ip, action, endpoint, reason], top to bottom. */
async function tableRows(page: Page): Promise<string[][]> {
  return page.$$eval('#events-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent ?? '')));
}

function expectedRow(s: Sent): string[] {
  return [s.type, s.ip, s.action, `${s.method} ${s.endpoint}`, s.reason];
}

async function waitForRowCount(page: Page, n: number): Promise<void> {
  await page.waitForFunction((count) => (globalThis as unknown as PageGlobals).document.querySelectorAll('#events-table tbody tr').length === count, n, {
    timeout: 10_000,
  });
}

describe('dev backend live page in headless Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;
  let backend: DevBackend;
  let transport: HTTPTransport;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    browser = await launchChromium();
    backend = new DevBackend({ rules: { rule_id: 'e2e', version: 1, ip_blacklist: [] } });
    const { url } = await backend.start();
    const config = resolveConfig(
      { apiKey: DEFAULT_DEV_API_KEY, endpoint: url, projectId: 'proj_e2e', installId: INSTALL_ID, retryAttempts: 0, timeout: 5 },
      { env: {} },
    );
    transport = new HTTPTransport(config);
    page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
    });
    await page.goto(url + '/');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    await page.waitForSelector('#conn-state[data-state="live"]', { timeout: 10_000 });
    // Set once: still there at the end means the page never reloaded.
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).__loadedOnce = true));
  });

  after(async () => {
    await transport?.close();
    await browser?.close();
    await backend?.stop();
  });

  it('shows events sent by a real agent in the table and the chart, live', async () => {
    assert.deepEqual(await tableRows(page), []);
    const first = await transport.sendEvents(toEvents(FIRST_BATCH));
    assert.equal(first.delivered, FIRST_BATCH.length);
    await waitForRowCount(page, FIRST_BATCH.length);
    const second = await transport.sendEvents(toEvents(SECOND_BATCH));
    assert.equal(second.delivered, SECOND_BATCH.length);
    await waitForRowCount(page, ALL.length);

    // Newest first; every field as sent, the hostile reason as plain text.
    assert.deepEqual(await tableRows(page), [...ALL].reverse().map(expectedRow));
    assert.equal(await page.locator('#events-table img').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).__xss), undefined);

    await page.waitForFunction((n) => (globalThis as unknown as PageGlobals).document.getElementById('count-events')?.textContent === String(n), ALL.length);
    const totals = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const chart = g.Chart.getChart(g.document.getElementById('events-chart'));
      return {
        buckets: chart.data.labels.length,
        perType: Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data.reduce((a: number, b) => a + (b ?? 0), 0)])),
      };
    });
    assert.equal(totals.buckets, 120, '10 minutes of 5-second buckets');
    assert.deepEqual(totals.perType, { ip_banned: 2, rate_limited: 3, suspicious_request: 4 });
    await page.screenshot({ path: OUT_DIR + 'dev-backend-page-events.png', fullPage: true });
  });

  it('filters the table by type and by IP', async () => {
    await page.selectOption('#type-filter', 'rate_limited');
    let rows = await tableRows(page);
    assert.deepEqual(rows, ALL.filter((s) => s.type === 'rate_limited').reverse().map(expectedRow));

    await page.fill('#ip-filter', IP_B);
    rows = await tableRows(page);
    assert.deepEqual(rows, ALL.filter((s) => s.type === 'rate_limited' && s.ip === IP_B).reverse().map(expectedRow));

    await page.selectOption('#type-filter', '');
    rows = await tableRows(page);
    assert.deepEqual(rows, ALL.filter((s) => s.ip === IP_B).reverse().map(expectedRow));
    assert.equal(rows.length, 4);

    // A part of an address matches too.
    await page.fill('#ip-filter', '203.0.113');
    assert.equal((await tableRows(page)).length, ALL.filter((s) => s.ip === IP_A).length);
    await page.screenshot({ path: OUT_DIR + 'dev-backend-page-filtered.png', fullPage: true });

    await page.fill('#ip-filter', '');
    assert.equal((await tableRows(page)).length, ALL.length);
  });

  it('charts metrics: counts summed, response time averaged', async () => {
    const metrics = [
      ...Array.from({ length: 3 }, () => new SecurityMetric({ metricType: 'request_count', value: 1, tags: { endpoint: '/search', method: 'GET' } })),
      new SecurityMetric({ metricType: 'response_time', value: 0.2, tags: { endpoint: '/search' } }),
      new SecurityMetric({ metricType: 'response_time', value: 0.4, tags: { endpoint: '/search' } }),
    ];
    const report = await transport.sendMetrics(metrics);
    assert.equal(report.delivered, metrics.length);
    const series = await page.waitForFunction(() => {
      const g = globalThis as unknown as PageGlobals;
      const chart = g.Chart.getChart(g.document.getElementById('metrics-chart'));
      const sets = chart.data.datasets;
      if (sets.length < 2) return null;
      return sets.map((d) => ({ label: d.label, axis: d.yAxisID, points: d.data.filter((v) => v !== null) }));
    });
    const byLabel = Object.fromEntries(((await series.jsonValue()) ?? []).map((s) => [s.label, s]));
    assert.deepEqual(byLabel.request_count, { label: 'request_count', axis: 'y', points: [3] });
    assert.equal(byLabel.response_time.axis, 'y1');
    assert.equal(byLabel.response_time.points.length, 1);
    assert.ok(Math.abs((byLabel.response_time.points[0] as number) - 0.3) < 1e-9);
    // The counters come with the stats message, which can trail the batch that fed the chart.
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.getElementById('count-metrics')?.textContent === '5');
    assert.equal(await page.textContent('#count-metrics'), '5');
  });

  it('shows the agent heartbeat and its health', async () => {
    const accepted = await transport.sendStatus({
      timestamp: new Date(),
      status: 'degraded',
      uptime: 3725,
      eventsSent: ALL.length,
      eventsFailed: 1,
      bufferSize: 2,
      lastFlush: new Date(),
      errors: ['Buffer nearly full'],
    });
    assert.equal(accepted, true);
    const row = page.locator(`#heartbeats tbody tr[data-install-id="${INSTALL_ID}"]`);
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 7), [INSTALL_ID, 'degraded', '1h 02m', String(ALL.length), '1', '2', 'Buffer nearly full']);
    assert.match(cells[7], /^\d+ s ago$/);
    assert.equal(await row.locator('.badge').getAttribute('data-status'), 'degraded');
  });

  it('shows the rules in force, with version and ETag, when they change', async () => {
    assert.equal(await page.textContent('#rules-version'), '1');
    backend.setRules({ rule_id: 'e2e', version: 7, ip_blacklist: ['203.0.113.66'], emergency_mode: false });
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.getElementById('rules-version')?.textContent === '7', undefined, {
      timeout: 10_000,
    });
    const served = await fetch(backend.url + '/api/v1/rules', { headers: { 'x-api-key': DEFAULT_DEV_API_KEY } });
    await served.arrayBuffer();
    assert.equal(await page.textContent('#rules-etag'), served.headers.get('etag'));
    const json = JSON.parse((await page.textContent('#rules-json')) ?? 'null');
    assert.deepEqual(json, { rule_id: 'e2e', version: 7, ip_blacklist: ['203.0.113.66'], emergency_mode: false });
    await page.screenshot({ path: OUT_DIR + 'dev-backend-page.png', fullPage: true });
  });

  it('reconnects by itself when the backend restarts, and shows the new backend\'s state', async () => {
    const port = Number(new URL(backend.url).port);
    await backend.stop();
    await page.waitForSelector('#conn-state:not([data-state="live"])', { timeout: 10_000 });
    backend = new DevBackend();
    await backend.start({ port });
    // EventSource retries after the `retry:` delay the stream announced (2 s); the summary then replaces the old state.
    await page.waitForSelector('#conn-state[data-state="live"]', { timeout: 15_000 });
    await waitForRowCount(page, 0);
    assert.equal(await page.textContent('#count-events'), '0');
    const config = resolveConfig({ apiKey: DEFAULT_DEV_API_KEY, endpoint: backend.url, installId: INSTALL_ID, retryAttempts: 0, timeout: 5 }, { env: {} });
    const fresh = new HTTPTransport(config);
    try {
      assert.equal((await fresh.sendEvents(toEvents(FIRST_BATCH.slice(2, 3)))).delivered, 1);
    } finally {
      await fresh.close();
    }
    await waitForRowCount(page, 1);
    assert.deepEqual(await tableRows(page), [expectedRow(FIRST_BATCH[2])]);
  });

  it('never reloaded, never showed the API key, and logged no error (CSP included)', async () => {
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).__loadedOnce), true);
    assert.ok(!(await page.content()).includes(DEFAULT_DEV_API_KEY));
    // While the backend restarted, a reconnect attempt may be refused: that is the browser's report, not the page's.
    assert.deepEqual(pageErrors.filter((e) => !e.includes('net::ERR_CONNECTION_REFUSED')), []);
  });
});
