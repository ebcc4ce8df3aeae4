import { CourseError } from "./errors.ts";

/**
 * A small, fast, seeded PRNG (mulberry32). Its whole state is one 32-bit integer, so a
 * checkpoint can store `getState()` and a resumed run continues with exactly the same numbers.
 * `Math.random()` cannot be seeded, which is why every random choice in the course goes through this.
 * It is the course's one random stream type: data sampling and masking, shuffling, parameter
 * init (lib/models `initializeParameters`) and dropout seeds (lib/models `DropoutSeeds`, the
 * Trainer's resumable dropout stream) all draw from a `SeededRandom`.
 */
export class SeededRandom {
  #state: number;

  constructor(seed = 42) {
    this.#state = normalizeSeed(seed);
  }

  /**
   * A generator whose state is `state` as given, without the seed mixing of the constructor:
   * `SeededRandom.fromState(s)` continues exactly where a generator with `getState() === s` was.
   */
  static fromState(state: number): SeededRandom {
    const rng = new SeededRandom();
    rng.setState(state);
    return rng;
  }

  /** The next raw 32-bit output, an integer in [0, 2^32): one mulberry32 step. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new CourseError(
        "RANDOM_BAD_RANGE",
        `int(n) needs a positive integer n, got ${n}`,
        "int(n)에는 1 이상의 정수를 넣어 주세요. 예: rng.int(10) → 0~9 중 하나",
      );
    }
    return Math.floor(this.next() * n);
  }

  /**
   * Normal sample (Box-Muller). The second value of each pair is thrown away on purpose:
   * caching it would make the state more than one integer.
   */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle, in place; returns the same array for chaining. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A shuffled `[0, 1, ..., n-1]`. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** A fresh integer seed, e.g. for a tfjs op (`tf.dropout(x, rate, undefined, rng.seed())`). */
  seed(): number {
    return Math.floor(this.next() * 2147483647);
  }

  /** An independent generator derived from this one (its own stream, reproducible). */
  fork(): SeededRandom {
    return new SeededRandom(this.seed());
  }

  getState(): number {
    return this.#state;
  }

  setState(state: number): void {
    if (!Number.isInteger(state)) {
      throw new CourseError(
        "RANDOM_BAD_STATE",
        `RNG state must be an integer, got ${state}`,
        "getState()가 돌려준 값을 그대로 setState()에 넣어 주세요.",
      );
    }
    this.#state = state | 0;
  }
}

function normalizeSeed(seed: number): number {
  if (!Number.isFinite(seed)) {
    throw new CourseError(
      "RANDOM_BAD_SEED",
      `seed must be a finite number, got ${seed}`,
      "시드는 42 같은 정수로 지정해 주세요.",
    );
  }
  // Mix the seed once so nearby seeds (1, 2, 3) do not start from nearby states.
  let h = Math.trunc(seed) ^ 0x9e3779b9;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

let globalRandom = new SeededRandom(42);
let globalSeed = 42;

/**
 * Seeds the course-wide generator (`getRandom()`). Code that needs its own stream should take
 * `getRandom().fork()` or `new SeededRandom(seed)` so that one consumer does not shift another.
 */
export function setSeed(seed: number): SeededRandom {
  globalRandom = new SeededRandom(seed);
  globalSeed = seed;
  return globalRandom;
}

/** The course-wide generator last set by `setSeed` (seed 42 until then). */
export function getRandom(): SeededRandom {
  return globalRandom;
}

export function getSeed(): number {
  return globalSeed;
}
