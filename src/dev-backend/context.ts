/** Everything a route handler needs from the DevBackend that owns it. */
import type { ApiKeyCheck } from './auth.js';
import type { FaultQueue } from './faults.js';
import type { RecordFile } from './record-file.js';
import type { RulesSource } from './rules-source.js';
import type { Store } from './store.js';
import type { AcceptedBatch, BatchRecord, RequestRecord, SignatureMode, WireObject } from './types.js';

export interface DevBackendEvents {
  batch: [AcceptedBatch];
  status: [{ record: BatchRecord; status: WireObject }];
  request: [RequestRecord];
  rules: [object | null];
}

export interface BackendContext {
  store: Store;
  faults: FaultQueue;
  rules: RulesSource;
  auth: ApiKeyCheck;
  signingSecret: string | undefined;
  signatureMode: SignatureMode;
  encryptionKey: Buffer | undefined;
  maxBodyBytes: number;
  recordFile: RecordFile | undefined;
  controlApi: boolean;
  emit<K extends keyof DevBackendEvents>(event: K, ...args: DevBackendEvents[K]): void;
  /** True once stop() was called: requests still in an injected delay store nothing. */
  stopped(): boolean;
  /** Clears stored data and faults. */
  reset(): void;
  setRules(rules: object | null): void;
}
