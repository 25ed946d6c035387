/**
 * Polls `cond` until it holds, or throws after `timeoutMs`: the tests' one way
 * to wait for something asynchronous (a delivery, a reconnect) without a
 * fixed sleep. Two call forms: `until(cond, ms?)` and, when the failure
 * message should say what was awaited, `until(what, cond, ms?)`.
 */
type Condition = () => boolean | Promise<boolean>;

const POLL_MS = 10;

export async function until(cond: Condition, timeoutMs?: number): Promise<void>;
export async function until(what: string, cond: Condition, timeoutMs?: number): Promise<void>;
export async function until(a: string | Condition, b?: Condition | number, c?: number): Promise<void> {
  const what = typeof a === 'string' ? a : 'the condition';
  const cond = typeof a === 'string' ? (b as Condition) : a;
  const timeoutMs = (typeof a === 'string' ? c : (b as number | undefined)) ?? 5000;
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
