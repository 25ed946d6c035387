/**
 * A real HTTP server (node:http) that answers like the guard backend
 * (reference section 3), records what it receives, and misbehaves on demand
 * through a queue of injected faults. Used by the transport tests and by
 * `guard-agent dev-backend`.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiKeyCheck } from './auth.js';
import type { BackendContext, DevBackendEvents } from './context.js';
import { decodeEncryptionKey } from './decrypt.js';
import { FaultQueue } from './faults.js';
import { RecordFile } from './record-file.js';
import { DevPage } from './page/index.js';
import { handleRequest } from './routes.js';
import { RulesSource } from './rules-source.js';
import { Store } from './store.js';
import type {
  BatchRecord,
  DevBackendOptions,
  DevBackendStats,
  SignatureMode,
  StartOptions,
  StartResult,
  WireObject,
} from './types.js';

export const DEFAULT_DEV_API_KEY = 'dev-api-key-0123456789';
export const DEFAULT_MAX_BODY_BYTES = 262_144;

export class DevBackend extends EventEmitter<DevBackendEvents> {
  /** The injected faults; `push` and `clear` them from tests. */
  readonly faults = new FaultQueue();
  private readonly store: Store;
  private readonly rulesSource: RulesSource;
  private readonly context: BackendContext;
  /** The live page at `/` (its routes are not counted as API requests). */
  private readonly page: DevPage;
  private readonly rulesFile: string | undefined;
  private readonly rulesPollMs: number;
  private server: Server | undefined;
  private address: StartResult | undefined;

  constructor(options: DevBackendOptions = {}) {
    super();
    const apiKeys = options.apiKeys === undefined ? [DEFAULT_DEV_API_KEY] : ([] as string[]).concat(options.apiKeys);
    if (apiKeys.length === 0) throw new Error('DevBackend: apiKeys must not be empty');
    const signatureMode: SignatureMode = options.signatureMode ?? 'uncompressed';
    if (signatureMode !== 'uncompressed' && signatureMode !== 'wire') throw new Error(`DevBackend: unknown signatureMode ${String(signatureMode)}`);
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new Error('DevBackend: maxBodyBytes must be a positive integer');
    this.rulesPollMs = options.rulesPollMs ?? 250;
    this.store = new Store(options.keepEvents ?? true);

    this.rulesSource = new RulesSource((rules) => this.emit('rules', rules));
    if (typeof options.rules === 'string') this.rulesFile = options.rules;
    else if (options.rules !== undefined) this.rulesSource.set(options.rules);

    this.context = {
      store: this.store,
      faults: this.faults,
      rules: this.rulesSource,
      auth: new ApiKeyCheck(apiKeys, options.projectId),
      signingSecret: options.signingSecret === '' ? undefined : options.signingSecret,
      signatureMode,
      encryptionKey: options.encryptionKey === undefined ? undefined : decodeEncryptionKey(options.encryptionKey),
      maxBodyBytes,
      recordFile: options.recordFile === undefined ? undefined : new RecordFile(options.recordFile),
      controlApi: options.controlApi ?? true,
      emit: (event, ...args) => {
        // EventEmitter's generic signature cannot follow a generic key; the context's type already ties the two.
        (this.emit as (name: string, ...payload: unknown[]) => boolean)(event, ...args);
      },
      stopped: () => this.server === undefined,
      reset: () => this.reset(),
      setRules: (rules) => this.setRules(rules),
    };
    this.page = new DevPage({ stats: () => this.stats, rules: () => this.rulesSource.served });
    this.page.follow(this);
  }

  /** Listens (default 127.0.0.1 on a free port) and starts watching the rules file, if any. */
  async start(options: StartOptions = {}): Promise<StartResult> {
    if (this.server) throw new Error('DevBackend: already started');
    const host = options.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      if (this.page.handle(req, res)) return;
      void handleRequest(this.context, req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    if (this.rulesFile !== undefined) this.rulesSource.watch(this.rulesFile, this.rulesPollMs);
    const port = (server.address() as AddressInfo).port;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    this.address = { url: `http://${urlHost}:${port}`, port, host };
    return this.address;
  }

  /** Closes the server and every open connection (keep-alive ones included) and stops watching the rules file. */
  async stop(): Promise<void> {
    this.rulesSource.unwatch();
    this.page.close();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.address = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** `http://host:port` while started. */
  get url(): string {
    if (!this.address) throw new Error('DevBackend: not started');
    return this.address.url;
  }

  /** Unique events (deduplicated on idempotency_key), wire objects, in arrival order. */
  get events(): WireObject[] {
    return this.store.events;
  }

  /** Unique events stored so far (also with `keepEvents: false`, where `events` stays empty). */
  get eventCount(): number {
    return this.store.eventCount;
  }

  /** Whether an event with this idempotency_key was stored; case, hyphens, braces and `urn:uuid:` do not matter. */
  hasEvent(idempotencyKey: string): boolean {
    return this.store.hasEvent(idempotencyKey);
  }

  /** Every metric received, duplicates included (metrics have no idempotency key). */
  get metrics(): WireObject[] {
    return this.store.metrics;
  }

  get statuses(): WireObject[] {
    return this.store.statuses;
  }

  /** One record per POST to an API route, whatever its outcome. */
  get batches(): BatchRecord[] {
    return this.store.batches;
  }

  get stats(): DevBackendStats {
    return this.store.stats;
  }

  /** The ruleset currently served, or null. */
  get rules(): object | null {
    return this.rulesSource.served?.rules ?? null;
  }

  /** Clears stored data, counters and faults (not the rules). */
  reset(): void {
    this.store.reset();
    this.faults.clear();
    this.page.reset();
  }

  /** Serves `rules` (snake_case object) from now on; null makes GET /api/v1/rules answer 404. */
  setRules(rules: object | null): void {
    this.rulesSource.set(rules);
  }
}
