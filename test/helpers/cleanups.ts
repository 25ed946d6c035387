/** Undo steps a test registers as it goes (servers, providers, instrumentations), run after each test, last registered first. */
export type Cleanup = () => Promise<void> | void;

/** Registers the afterEach hook of the calling describe block and returns the list to push cleanups onto. */
export function cleanupsAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** An instrumentation test's harness: its instrumentation is disabled and its MeterProvider shut down after the test. */
export function usingHarness<H extends { inst: { disable(): void }; provider: { shutdown(): Promise<void> } }>(cleanups: Cleanup[], h: H): H {
  cleanups.push(
    () => h.inst.disable(),
    () => h.provider.shutdown(),
  );
  return h;
}
