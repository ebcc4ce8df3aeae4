/** Reproducible sampling and splitting of DataFrames (seeded, optionally stratified by label). */
import pl from "nodejs-polars";
import { CourseError } from "../../runtime/errors.ts";
import { SeededRandom } from "../../runtime/random.ts";

/** Rows of `df` at `indices`, in that order. */
export function takeRows(df: pl.DataFrame, indices: number[]): pl.DataFrame {
  return pl.DataFrame(df.getColumns().map((series) => series.gather(indices)));
}

export interface StratifiedSampleOptions {
  n: number;
  labelColumn?: string;
  seed?: number;
}

/**
 * `n` rows whose label proportions match `df`'s (largest-remainder rounding), picked with a
 * seeded RNG and returned in their original order.
 */
export function sampleStratified(
  df: pl.DataFrame,
  options: StratifiedSampleOptions,
): pl.DataFrame {
  const { n, labelColumn = "label", seed = 42 } = options;
  if (!Number.isInteger(n) || n < 0 || n > df.height) {
    throw new CourseError(
      "DATA_BAD_SAMPLE_SIZE",
      `n must be an integer between 0 and ${df.height}, got ${n}`,
      `표본 크기 n은 0 이상 ${df.height} 이하의 정수여야 합니다.`,
    );
  }
  const groups = groupIndices(df, labelColumn);
  const quotas = proportionalQuotas(
    [...groups.values()].map((g) => g.length),
    n,
  );
  const rng = new SeededRandom(seed);
  const picked: number[] = [];
  [...groups.values()].forEach((indices, g) =>
    picked.push(...rng.shuffle([...indices]).slice(0, quotas[g]))
  );
  return takeRows(df, picked.sort((a, b) => a - b));
}

export interface TrainTestSplitOptions {
  /** Fraction of rows (0-1) or a row count for the test part. */
  testSize?: number;
  seed?: number;
  /** Column whose value proportions both parts should keep (usually the label). */
  stratify?: string;
}

/** Shuffled, seeded split into `{ train, test }` (scikit-learn's train_test_split). */
export function trainTestSplit(
  df: pl.DataFrame,
  options: TrainTestSplitOptions = {},
): { train: pl.DataFrame; test: pl.DataFrame } {
  const { testSize = 0.2, seed = 42, stratify } = options;
  const testCount = testSize < 1 ? Math.round(df.height * testSize) : testSize;
  if (
    !(testSize > 0) || !Number.isInteger(testCount) || testCount >= df.height ||
    testCount < 1
  ) {
    throw new CourseError(
      "DATA_BAD_SPLIT",
      `testSize ${testSize} does not leave both parts non-empty (${df.height} rows)`,
      "testSize는 0과 1 사이의 비율(예: 0.2)이나 전체보다 작은 행 수로 지정하세요.",
    );
  }
  const rng = new SeededRandom(seed);
  const test: number[] = [];
  const train: number[] = [];
  if (stratify) {
    const groups = [...groupIndices(df, stratify).values()];
    const quotas = proportionalQuotas(groups.map((g) => g.length), testCount);
    groups.forEach((indices, g) => {
      const shuffled = rng.shuffle([...indices]);
      test.push(...shuffled.slice(0, quotas[g]));
      train.push(...shuffled.slice(quotas[g]));
    });
    rng.shuffle(test);
    rng.shuffle(train);
  } else {
    const order = rng.permutation(df.height);
    test.push(...order.slice(0, testCount));
    train.push(...order.slice(testCount));
  }
  return { train: takeRows(df, train), test: takeRows(df, test) };
}

function groupIndices(
  df: pl.DataFrame,
  columnName: string,
): Map<unknown, number[]> {
  if (!df.columns.includes(columnName)) {
    throw new CourseError(
      "DATA_MISSING_COLUMN",
      `column "${columnName}" not found (columns: ${df.columns.join(", ")})`,
      `라벨 열 이름을 확인하세요. 있는 열: ${df.columns.join(", ")}`,
    );
  }
  const groups = new Map<unknown, number[]>();
  df.getColumn(columnName).toArray().forEach((value, index) => {
    const key = value;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(index);
  });
  // Sorted keys make the result independent of which label happens to come first.
  return new Map(
    [...groups.entries()].sort(([a], [b]) =>
      String(a).localeCompare(String(b))
    ),
  );
}

/** Splits `total` over groups in proportion to their sizes; rounding leftovers go to the largest remainders. */
function proportionalQuotas(sizes: number[], total: number): number[] {
  const all = sizes.reduce((a, b) => a + b, 0);
  const exact = sizes.map((size) => (size * total) / all);
  const quotas = exact.map(Math.floor);
  let left = total - quotas.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) =>
    b[0] - a[0] || a[1] - b[1]
  );
  for (const [, i] of byRemainder) {
    if (left === 0) break;
    if (quotas[i] < sizes[i]) {
      quotas[i]++;
      left--;
    }
  }
  return quotas;
}
