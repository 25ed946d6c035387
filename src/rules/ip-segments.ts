/**
 * The build side of IpMatcher: one address family's rule blocks cut into
 * disjoint segments, each labelled with the most specific rule covering it.
 *
 * Addresses are big-endian uint32 words, one for IPv4 and four for IPv6, as
 * the lookup compares them; no BigInt. A rules change at the sanitizer's
 * limits (three lists of 100,000 entries) builds here on the host's event
 * loop, and BigInt masks, compares and sorts made IPv6 rules cost about
 * 3.5 µs each to build (1.3 µs now; 100,000 IPv6 rules in 135 ms, IPv4 in 67;
 * bench/ip-matcher.ts prints the whole update as `rules.update_ms`).
 */

/** Blocks of one family, stored column-wise: block `i` has words `[i * width, (i + 1) * width)`. */
export class BlockList {
  readonly first: number[] = [];
  readonly last: number[] = [];
  readonly prefix: number[] = [];
  readonly label: number[] = [];

  /** `width` words per address: 1 (IPv4) or 4 (IPv6). */
  constructor(readonly width: 1 | 4) {}

  get length(): number {
    return this.label.length;
  }

  /** Adds the block `words/prefix` (host bits in `words` are cleared here). */
  add(words: Uint32Array, prefix: number, label: number): void {
    for (let w = 0; w < this.width; w++) {
      // How many of this word's 32 bits the prefix covers.
      const covered = Math.min(32, Math.max(0, prefix - 32 * w));
      const mask = covered === 0 ? 0 : covered === 32 ? 0xffffffff : (0xffffffff << (32 - covered)) >>> 0;
      const first = (words[w] & mask) >>> 0;
      this.first.push(first);
      this.last.push((first | ~mask) >>> 0);
    }
    this.prefix.push(prefix);
    this.label.push(label);
  }

  /** Adds the whole address space under `label`, ordered as a block of `prefix` (which may be below 0). */
  addAll(prefix: number, label: number): void {
    for (let w = 0; w < this.width; w++) {
      this.first.push(0);
      this.last.push(0xffffffff);
    }
    this.prefix.push(prefix);
    this.label.push(label);
  }

  /** Whether block `i` covers every address from `lo` to `hi` (words). */
  covers(i: number, lo: readonly number[], hi: readonly number[]): boolean {
    return compareWords(this.first, i * this.width, lo, 0, this.width) <= 0 && compareWords(this.last, i * this.width, hi, 0, this.width) >= 0;
  }
}

/** Segment starts (`width` words each) and their labels (-1: no rule). */
export interface Segments {
  starts: Uint32Array;
  labels: Int32Array;
}

/**
 * Cuts the family's address space into segments labelled with the most
 * specific covering block (-1 for none). Blocks are taken by start, wider
 * first, so each block either follows the open ones or nests in the top one
 * (CIDR blocks are laminar). Duplicates keep the first rule in list order.
 * IPv4 covers made from wide IPv6 rules share a range but not a prefix: the
 * narrower IPv6 rule is nested in the wider one, as in IPv6 space.
 */
export function segments(blocks: BlockList): Segments {
  const width = blocks.width;
  const order = orderByStart(blocks);
  const starts: number[] = new Array<number>(width).fill(0);
  const labels: number[] = [-1];
  const next: number[] = new Array<number>(width).fill(0);

  const emit = (src: readonly number[], off: number, label: number): void => {
    const n = labels.length;
    if (compareWords(starts, (n - 1) * width, src, off, width) === 0) {
      labels[n - 1] = label;
      // A replaced segment may now repeat its predecessor's label: merge them.
      if (n >= 2 && labels[n - 2] === label) {
        starts.length -= width;
        labels.pop();
      }
    } else if (labels[n - 1] !== label) {
      for (let w = 0; w < width; w++) starts.push(src[off + w]);
      labels.push(label);
    }
  };
  const stack: number[] = [];
  const close = (): void => {
    const top = stack.pop() as number;
    // The address after the block's last, unless that was the family's last address.
    let carry = 1;
    for (let w = width - 1; w >= 0; w--) {
      const v = blocks.last[top * width + w] + carry;
      carry = v > 0xffffffff ? 1 : 0;
      next[w] = carry ? 0 : v;
    }
    if (carry === 0) emit(next, 0, stack.length ? blocks.label[stack[stack.length - 1]] : -1);
  };
  for (const i of order) {
    while (stack.length && compareWords(blocks.last, stack[stack.length - 1] * width, blocks.first, i * width, width) < 0) close();
    const top = stack[stack.length - 1];
    // Same start and prefix: the same block; the one listed first keeps it.
    if (top !== undefined && blocks.prefix[top] === blocks.prefix[i] && compareWords(blocks.first, top * width, blocks.first, i * width, width) === 0) continue;
    stack.push(i);
    emit(blocks.first, i * width, blocks.label[i]);
  }
  while (stack.length) close();
  return { starts: Uint32Array.from(starts), labels: Int32Array.from(labels) };
}

/** -1, 0 or 1 as `a[ao..]` is below, equal to or above `b[bo..]`, over `width` words. */
function compareWords(a: readonly number[], ao: number, b: readonly number[], bo: number, width: number): number {
  for (let w = 0; w < width; w++) {
    const x = a[ao + w];
    const y = b[bo + w];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Positions fit below this in a sort key `start * POSITIONS + position` (2 ** 32 * 2 ** 21 = 2 ** 53, exact in a double). */
const POSITIONS = 2 ** 21;
/** Runs sharing a start up to this long are put in order by insertion; longer ones by a stable sort. */
const SHORT_RUN = 16;

/**
 * Block indices by start, then wider first, equal blocks in list order.
 * For IPv4, one native sort of plain numbers (start and position packed
 * into a double) does most of it, several times faster on 100,000 rules
 * than a comparator call per comparison; only blocks sharing a start are
 * then compared. For IPv6 the same on the first word measured slower than
 * the plain comparator sort (rules often share a /32).
 */
function orderByStart(blocks: BlockList): number[] {
  const n = blocks.length;
  const width = blocks.width;
  const { first, prefix } = blocks;
  const compare = (i: number, j: number): number => compareWords(first, i * width, first, j * width, width) || prefix[i] - prefix[j];
  if (width !== 1 || n >= POSITIONS) return Array.from({ length: n }, (_, i) => i).sort(compare);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = first[i] * POSITIONS + i;
  keys.sort();
  const order: number[] = new Array<number>(n);
  for (let k = 0; k < n; k++) order[k] = keys[k] % POSITIONS;
  for (let k = 0; k < n; ) {
    let end = k + 1;
    while (end < n && first[order[end]] === first[order[k]]) end++;
    if (end - k > 1) orderRun(order, k, end, compare);
    k = end;
  }
  return order;
}

/** Sorts `order[from, to)` (in list order now) by `compare`, keeping list order among equals. */
function orderRun(order: number[], from: number, to: number, compare: (i: number, j: number) => number): void {
  if (to - from > SHORT_RUN) {
    const run = order.slice(from, to).sort(compare);
    for (let k = 0; k < run.length; k++) order[from + k] = run[k];
    return;
  }
  for (let k = from + 1; k < to; k++) {
    const i = order[k];
    let j = k - 1;
    while (j >= from && compare(order[j], i) > 0) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = i;
  }
}
