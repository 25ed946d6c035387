/**
 * The demo's closing report: what reached the guard backend beside what
 * reached the OTLP receiver, one row per event type, then metrics,
 * heartbeats and spans; and the verdict, which says whether every guard
 * event reached both sides (matched by idempotency key) and whether their
 * number is the one the traffic should have produced.
 */
import type { DeliveryCounts } from './delivery-counts.js';
import type { TrafficTally } from './traffic-driver.js';

export interface DemoVerdict {
  ok: boolean;
  /** One line: the check, or what failed. */
  line: string;
  problems: string[];
}

export function judge(counts: DeliveryCounts, tally: TrafficTally): DemoVerdict {
  const { backend: b, otlp: o } = counts;
  const problems: string[] = [];
  const missingAtOtlp = [...b.eventKeys].filter((k) => !o.eventKeys.has(k)).length;
  const missingAtBackend = [...o.eventKeys].filter((k) => !b.eventKeys.has(k)).length;
  if (b.uniqueEvents === 0) problems.push('no security event reached the guard backend');
  if (o.guardLogs === 0) problems.push('no guard log record reached the OTLP receiver');
  if (missingAtOtlp) problems.push(`${missingAtOtlp} event(s) reached the guard backend but not the OTLP receiver`);
  if (missingAtBackend) problems.push(`${missingAtBackend} event(s) reached the OTLP receiver but not the guard backend`);
  if (b.uniqueEvents !== tally.expectedEvents) {
    problems.push(`the traffic should have raised ${tally.expectedEvents} security events; the guard backend holds ${b.uniqueEvents}`);
  }
  if (b.metricRecords === 0) problems.push('no metric record reached the guard backend');
  if (o.metricPoints === 0) problems.push('no metric point reached the OTLP receiver');
  if (problems.length) return { ok: false, line: `check FAILED: ${problems.join('; ')}`, problems };
  return {
    ok: true,
    line: `check: every guard event reached both (${b.uniqueEvents} at the guard backend, ${o.eventKeys.size} at the OTLP receiver, ${tally.expectedEvents} expected from the traffic)`,
    problems,
  };
}

type Row = [label: string, backend: string, otlp: string];

function sortedEntries(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

/** The side-by-side table, as lines. */
export function formatSummary(counts: DeliveryCounts, endpoints: { backendUrl: string; otlpUrl: string }): string[] {
  const { backend: b, otlp: o } = counts;
  const rows: Row[] = [];
  rows.push(['security events', `${b.uniqueEvents} unique (${b.eventsReceived} received)`, `${o.guardLogs} guard log records`]);
  const types = [...new Set([...Object.keys(b.eventsByType), ...Object.keys(o.guardLogsByType)])].sort();
  for (const t of types) rows.push([`  ${t}`, String(b.eventsByType[t] ?? 0), String(o.guardLogsByType[t] ?? 0)]);
  rows.push(['metrics', `${b.metricRecords} records`, `${o.metricPoints} points`]);
  const left = sortedEntries(b.metricsByType);
  const right = sortedEntries(o.pointsByMetric);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    rows.push(['', left[i] ? `${left[i][0]} ${left[i][1]}` : '', right[i] ? `${right[i][0]} ${right[i][1]}` : '']);
  }
  rows.push(['heartbeats', String(b.heartbeats), '-']);
  rows.push(['spans', '-', `${o.spans} (${o.guardSpanEvents} guard.security_event span events)`]);

  const header: Row = ['', 'guard backend', 'OTLP receiver'];
  const sub: Row = ['', endpoints.backendUrl, endpoints.otlpUrl];
  const all = [header, sub, ...rows];
  const w0 = Math.max(...all.map((r) => r[0].length)) + 2;
  const w1 = Math.max(...all.map((r) => r[1].length)) + 3;
  return all.map(([a, c1, c2]) => `${a.padEnd(w0)}${c1.padEnd(w1)}${c2}`.trimEnd());
}
