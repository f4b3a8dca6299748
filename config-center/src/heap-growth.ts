import { setFlagsFromString } from 'node:v8';

/** How much V8's old generation may grow past the live heap before a major GC, in percent. */
export const CENTER_HEAP_GROWING_PERCENT = 100;

let applied = false;

/**
 * Lets the old generation grow to twice the live heap (V8's `--heap-growing-percent=100`)
 * instead of V8's dynamic factor, which reaches four times under a long-poll fan-out: every held
 * long-poll lives a whole round, so its objects are promoted and die in the old generation, and
 * with 10,000 held (95 MB live) V8 let about 300 MB of that garbage wait for a major GC (peak RSS
 * 505 MB, against 321 MB at twice the live heap, for the same CPU per write; bench/center.md).
 * Process-wide and once; left alone when node was started with a --heap-growing-percent of its own.
 */
export function limitHeapGrowth(percent: number = CENTER_HEAP_GROWING_PERCENT): void {
  if (applied || percent <= 0) return;
  applied = true;
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((flag) =>
    /heap[-_]growing[-_]percent/.test(flag),
  );
  if (!given) setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
