// A small seeded PRNG (mulberry32): the same seed gives the same run, so a scenario
// replays identically and a shared link shows what its author saw.

/** Returns a function yielding floats in [0, 1), deterministic for a given 32-bit seed. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [0, n) from `rand`. */
export function below(rand, n) {
  return Math.floor(rand() * n);
}
