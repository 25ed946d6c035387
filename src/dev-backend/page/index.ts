/** The dev backend's live page: routes, live stream and the state it shows. */
export { DevPage, STREAM_PATH, SUMMARY_PATH, type PageSource, type RulesView } from './dev-page.js';
export { SseHub, type SseHubOptions } from './sse-hub.js';
export { LiveState, BUCKET_MS, WINDOW_MS, RECENT_LIMIT, type EventRow, type Heartbeat, type BatchView, type SumCount, type SeriesBucket } from './live-state.js';
