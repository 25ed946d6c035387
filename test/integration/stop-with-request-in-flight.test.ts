/**
 * stop() while a request outside the export path is still waiting for the
 * backend (a status heartbeat or a rules fetch, which stop does not abort):
 * stop keeps its deadline. Closing the HTTP client waits for the requests in
 * flight, so it must not be waited for past the deadline.
 */
import assert from 'node:assert/strict';
import { DevBackend } from '../../src/dev-backend/index.js';
import { GuardAgentHandler } from '../../src/handler/guard-agent-handler.js';

const KEY = 'stop-in-flight-key-0123456789';

describe('stop() with a status or rules request in flight', function () {
  this.timeout(30_000);
  let backend: DevBackend;
  before(async () => {
    backend = new DevBackend({ apiKeys: [KEY] });
    await backend.start();
  });
  afterEach(() => backend.reset());
  after(() => backend.stop());

  for (const what of ['status', 'rules'] as const) {
    it(`${what}: resolves by its deadline though the backend answers 8 s late`, async () => {
      const handler = new GuardAgentHandler({ apiKey: KEY, endpoint: backend.url, projectId: 'proj_stop_in_flight', timeout: 20 }, { env: {}, stopBeforeExit: false });
      await handler.start();
      backend.faults.push({ kind: 'delay', ms: 8000, path: `/api/v1/${what}` });
      if (what === 'status') void handler.sendStatus();
      else void handler.getDynamicRules();
      // The backend counts a request once it has answered: give this one time to get there.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      await handler.stop(1000);
      const took = Date.now() - started;
      assert.ok(took < 1800, `stop(1000) took ${took} ms`);
    });
  }
});
