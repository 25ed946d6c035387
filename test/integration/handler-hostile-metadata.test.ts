/**
 * App data whose JSON is enormous although the object is small: a graph that
 * shares its sub-objects (a DAG) has a JSON expansion exponential in its
 * depth, and every walk of the shipping path (redaction, the SDK's copy, the
 * codec) expands it. sendEvent runs on the host's request path, so it must
 * stay bounded: such metadata (or extra keys) is cut to the truncation
 * marker at ingest, counted, and the event still delivered.
 */
import assert from 'node:assert/strict';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';
import { until } from '../helpers/until.js';

const KEY = 'test-api-key-0123456789';

/** 41 small objects; JSON.stringify would write 2^40 copies of the innermost one. */
function sharedGraph(depth: number): Record<string, unknown> {
  let node: Record<string, unknown> = { leaf: 'x' };
  for (let i = 0; i < depth; i++) node = { a: node, b: node };
  return node;
}

describe('sendEvent with app data whose JSON expansion is huge (real dev backend)', function () {
  this.timeout(20_000);
  let backend: DevBackend;
  let url: string;
  let h: GuardAgentHandler;
  beforeEach(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    ({ url } = await backend.start());
  });
  afterEach(async () => {
    await h?.stop(2000);
    await backend.stop();
  });

  for (const sensitiveHeaders of [undefined, []]) {
    it(`a shared-reference graph in metadata and in an extra key costs milliseconds, not the host's event loop; the event arrives with the marker (sensitiveHeaders ${sensitiveHeaders ? '[]' : 'default'})`, async () => {
      h = new GuardAgentHandler({ apiKey: KEY, endpoint: url, projectId: 'hostile', flushInterval: 0.05, ...(sensitiveHeaders ? { sensitiveHeaders } : {}) }, { env: {}, stopBeforeExit: false });
      await h.start();
      const started = performance.now();
      await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.9', reason: 'graph in metadata', metadata: { graph: sharedGraph(40), attempts: 3 } });
      await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.9', reason: 'graph in extra', context: sharedGraph(40), note: 'kept by name' });
      const took = performance.now() - started;
      assert.ok(took < 500, `sendEvent held the event loop ${took.toFixed(0)} ms`);
      await until('both events delivered', () => backend.events.length === 2, 10_000);
      const meta = backend.events.find((e) => e.reason === 'graph in metadata')!.metadata as Record<string, unknown>;
      assert.deepEqual(meta, { _guard_truncated: true, original_bytes: null, keys: ['graph', 'attempts'] });
      const extra = backend.events.find((e) => e.reason === 'graph in extra')!;
      assert.equal(extra.context, undefined);
      assert.deepEqual(extra._guard_truncated_extra, ['context', 'note']);
      assert.equal(h.getStats().codec.truncated, 2, 'both cuts are counted');
    });
  }

  it('the same graph behind a toJSON (a property, or the metadata\'s own class) or inside a Map or Set next to a value JSON cannot write is cut too', async () => {
    h = new GuardAgentHandler({ apiKey: KEY, endpoint: url, projectId: 'hostile', flushInterval: 0.05 }, { env: {}, stopBeforeExit: false });
    await h.start();
    // JSON.stringify writes what toJSON returns; a function or a BigInt sends the codec's walk into Maps and Sets.
    class Doc {
      constructor(readonly g: unknown) {}
      toJSON(): unknown {
        return this.g;
      }
    }
    const hostile: [string, Record<string, unknown>][] = [
      ['toJSON property', { graph: { toJSON: () => sharedGraph(40) } }],
      ['own class toJSON', new Doc(sharedGraph(40)) as unknown as Record<string, unknown>],
      ['Map and a function', { graph: new Map([['g', sharedGraph(40)]]), onDone: () => undefined }],
      ['Set and a BigInt', { graph: new Set([sharedGraph(40)]), n: 1n }],
    ];
    // Without the bound each of these holds the event loop for hours (2 s at 20 levels): the test times out.
    for (const [reason, metadata] of hostile) await h.sendEvent({ eventType: 'ip_banned', ipAddress: '198.51.100.9', reason, metadata });
    await h.sendEvent({
      eventType: 'ip_banned',
      ipAddress: '198.51.100.9',
      reason: 'ordinary',
      metadata: { when: new Date(0), tags: new Set(['a', 'b']), doc: new Doc({ id: 7 }), limits: new Map([['login', 5]]), cause: new TypeError('bad header') },
    });
    await until('every event delivered', () => backend.events.length === 5, 10_000);
    for (const [reason] of hostile) {
      const meta = backend.events.find((e) => e.reason === reason)!.metadata as Record<string, unknown>;
      assert.equal(meta._guard_truncated, true, reason);
      assert.equal(meta.original_bytes, null, reason);
    }
    // A Set, a Map and an Error carry their contents (JSON.stringify alone writes each as {}).
    assert.deepEqual(backend.events.find((e) => e.reason === 'ordinary')!.metadata, {
      when: '1970-01-01T00:00:00.000Z',
      tags: ['a', 'b'],
      doc: { id: 7 },
      limits: { login: 5 },
      cause: { name: 'TypeError', message: 'bad header' },
    });
    assert.equal(h.getStats().codec.truncated, 4);
  });

  it('ordinary metadata is untouched: a cycle becomes its marker, a large but flat value is cut by the codec with its exact size', async () => {
    h = new GuardAgentHandler({ apiKey: KEY, endpoint: url, projectId: 'hostile', flushInterval: 0.05 }, { env: {}, stopBeforeExit: false });
    await h.start();
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    const shared = { x: 1 };
    await h.sendEvent({ eventType: 'ip_banned', reason: 'small', metadata: { cyclic, twice: [shared, shared], list: Array.from({ length: 1000 }, (_, i) => i) } });
    await h.sendEvent({ eventType: 'ip_banned', reason: 'big string', metadata: { blob: 'y'.repeat(200_000) } });
    await until('both events delivered', () => backend.events.length === 2, 10_000);
    const small = backend.events.find((e) => e.reason === 'small')!.metadata as Record<string, unknown>;
    assert.deepEqual(small.cyclic, { n: 1, self: '[Circular]' });
    assert.deepEqual(small.twice, [{ x: 1 }, { x: 1 }]);
    assert.equal((small.list as number[]).length, 1000);
    assert.deepEqual(backend.events.find((e) => e.reason === 'big string')!.metadata, { _guard_truncated: true, original_bytes: 200_011, keys: ['blob'] });
  });
});
