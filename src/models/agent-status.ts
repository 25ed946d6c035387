/**
 * AgentStatus (reference 2.5): the body of the `POST /api/v1/status`
 * heartbeat. The reference fields come first; `extra` carries what this agent
 * adds (project, version, drops, queue depth), which the backend's model
 * ignores and newer dashboards can read.
 */
export type AgentHealth = 'healthy' | 'degraded' | 'failed';

export interface AgentStatus {
  timestamp: Date;
  status: AgentHealth;
  /** Seconds since the handler was constructed. */
  uptime: number;
  eventsSent: number;
  eventsFailed: number;
  /** Items held in memory (SDK queue + in-memory fallback). */
  bufferSize: number;
  lastFlush: Date | null;
  errors: string[];
  extra?: Record<string, unknown>;
}
