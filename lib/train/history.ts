/**
 * What happened during training, in plain JSON (it goes into trainer_state.json as is). The
 * learning rate is known on the host and recorded every step; the loss and gradient norm are read
 * back from the device only at logging steps, so `train` rows are means over a logging interval
 * (as the Hugging Face Trainer logs them; loggingSteps = 1 gives every step).
 */
import pl from "nodejs-polars";

export interface TrainLogRow {
  step: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  grad_norm: number;
  samples_per_second: number;
  tokens_per_second: number;
  elapsed_s: number;
  trainable_params: number;
}

export interface EvalLogRow {
  step: number;
  epoch: number;
  elapsed_s: number;
  [metric: string]: number;
}

export interface LrRow {
  step: number;
  learning_rate: number;
}

export interface HistoryJSON {
  train: TrainLogRow[];
  eval: EvalLogRow[];
  lr: LrRow[];
  trainableParams: Record<string, number>;
}

export class TrainingHistory {
  train: TrainLogRow[] = [];
  eval: EvalLogRow[] = [];
  lr: LrRow[] = [];
  /** Trainable parameter count per phase (e.g. "epoch 0"), for the freeze comparison. */
  trainableParams: Record<string, number> = {};

  static fromJSON(json: HistoryJSON): TrainingHistory {
    const h = new TrainingHistory();
    h.train = [...json.train];
    h.eval = [...json.eval];
    h.lr = [...json.lr];
    h.trainableParams = { ...json.trainableParams };
    return h;
  }

  toJSON(): HistoryJSON {
    return {
      train: this.train,
      eval: this.eval,
      lr: this.lr,
      trainableParams: this.trainableParams,
    };
  }

  /** The last evaluation's value of `metric`, if any. */
  lastEval(metric: string): number | undefined {
    return this.eval.at(-1)?.[metric];
  }

  /** One row per logged step ("train"), evaluation ("eval") or optimizer step ("lr"). */
  toDataFrame(kind: "train" | "eval" | "lr" = "train"): pl.DataFrame {
    const rows: Record<string, number>[] = kind === "train"
      ? this.train.map((r) => ({ ...r }))
      : kind === "eval"
      ? this.eval
      : this.lr.map((r) => ({ ...r }));
    if (rows.length === 0) return pl.DataFrame({ step: [] as number[] });
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return pl.DataFrame(
      Object.fromEntries(
        columns.map((c) => [c, rows.map((r) => r[c] ?? null)]),
      ),
    );
  }
}
