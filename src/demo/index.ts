/** `guard-agent demo`: the dev backend, an OTLP receiver and the example app, driven by scripted traffic. */
export { runDemo, EXIT_INTERRUPTED, type DemoIo } from './run-demo.js';
export { DEFAULT_DEMO_OPTIONS, parseDuration, parseRate, parsePortBase, type DemoOptions } from './demo-options.js';
export { AppProcess, type AppProcessOptions } from './app-process.js';
export { driveTraffic, emptyTally, type TrafficOptions, type TrafficTally } from './traffic-driver.js';
export { scriptedRequest, raisesSecurityEvent, TRAFFIC_KINDS, type ScriptedRequest, type TrafficKind } from './traffic-mix.js';
export { ProgressReporter, formatBar, formatProgressLine, formatStatuses, type ProgressStream } from './progress.js';
export { countDeliveries, countBackend, countOtlp, settledCounts, type DeliveryCounts, type BackendSide, type OtlpSide } from './delivery-counts.js';
export { formatSummary, judge, type DemoVerdict } from './demo-summary.js';
export { findExampleRoot, EXAMPLE_APP } from './locate-example.js';
