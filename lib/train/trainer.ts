/**
 * The training loop every training cell goes through, shaped like the Hugging Face Trainer:
 * `new Trainer({model, args, trainDataset, evalDataset, computeMetrics})`, then `train()`,
 * `evaluate()`, `predict()`.
 *
 * Speed rules it follows: the loss is summed on the device and read back only at logging steps
 * (a WebGPU readback costs ~11 ms); every step's tensors are disposed; batches are padded only to
 * their own longest example and, with bucketByLength, hold examples of similar length; a frozen
 * encoder's features are computed once.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
// tfjs-core registers no gradients; the tfjs bundle registers them all (its ESM
// `register_all_gradients` has extensionless imports Deno cannot load).
import "@tensorflow/tfjs";
import { CourseError } from "../runtime/errors.ts";
import {
  clearInterrupt,
  interruptedError,
  interruptPending,
  refuseQueuedAfterInterrupt,
} from "../runtime/kernel.ts";
import { getRandom, SeededRandom, setSeed } from "../runtime/random.ts";
import { ProgressDisplay, type ProgressState } from "./progress.ts";
import { AdamW } from "./adamw.ts";
import {
  resolveArguments,
  type ResolvedArguments,
  type TrainingArguments,
} from "./arguments.ts";
import {
  batchOrder,
  collateExamples,
  disposeInputs,
  labelOf,
} from "./batching.ts";
import {
  latestCheckpoint,
  nonFiniteParameters,
  nonFiniteWeightsMessage,
  readCheckpoint,
  removeStaleTempFolders,
  restoreModelWeights,
  rotateCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
import { clipByGlobalNorm } from "./clipping.ts";
import {
  computeFeatures,
  disposeFeatures,
  featureBatch,
  type FeatureCache,
  requireHead,
} from "./features.ts";
import { applyFreeze, countTrainable } from "./freeze.ts";
import { TrainingHistory } from "./history.ts";
import { accuracy, argmaxRows } from "./metrics.ts";
import { LrSchedule, resolveWarmupSteps } from "./schedules.ts";
import type { Example, ModelOutputs, TrainableModel } from "./types.ts";

export interface EvalPrediction {
  /** Per example: [num_labels] for sentence heads, [length][num_labels] for token/span heads. */
  logits: number[][] | number[][][];
  /** Argmax of the logits (per example, or per token). */
  predictions: number[] | number[][];
  labels: (number | number[])[];
}

export type ComputeMetrics = (
  prediction: EvalPrediction,
) => Record<string, number>;

export interface PredictionOutput extends EvalPrediction {
  metrics: Record<string, number>;
}

export type StopReason =
  | "completed"
  | "time_budget"
  | "early_stopping"
  | "interrupted";

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  stoppedBy: StopReason;
  metrics: Record<string, number>;
  history: TrainingHistory;
  bestCheckpoint?: string;
  /** Feature extraction: seconds spent computing the frozen features once. */
  featureSeconds?: number;
}

export interface TrainerOptions {
  model: TrainableModel;
  args?: TrainingArguments;
  trainDataset?: Example[];
  evalDataset?: Example[];
  computeMetrics?: ComputeMetrics;
}

/** Counters that a checkpoint must restore for a resumed run to continue exactly. */
interface LoopState {
  globalStep: number;
  epoch: number;
  /** Optimizer steps already done in `epoch`. */
  stepInEpoch: number;
  bestMetric?: number;
  bestCheckpoint?: string;
  evalsWithoutImprovement: number;
  elapsedS: number;
  /** Loss not yet logged (sum over `pendingLossCount` micro-batches). */
  pendingLossSum: number;
  pendingLossCount: number;
  lastLoggedLoss?: number;
  /** Loss of the first step (before any update): what a diverging loss is compared with. */
  startLoss?: number;
}

/** What one `train()` call works with, passed between its steps (`prepareRun` builds it). */
interface TrainingRun {
  dataset: Example[];
  state: LoopState;
  schedule: LrSchedule;
  optimizer: AdamW;
  params: Map<string, tf.Variable>;
  /** tfjs variable name -> Hugging Face parameter name (gradients come keyed by the former). */
  hfNameOf: Map<string, string>;
  updatesPerEpoch: number;
  totalSteps: number;
  numEpochs: number;
  progress: ProgressDisplay;
  lossCurve: { step: number; loss: number }[];
  /** Seconds since the run started (a resumed run counts its checkpoint's time too). */
  elapsed: () => number;
  features?: FeatureCache;
  featureSeconds?: number;
  /** Set by early stopping, Interrupt and the time budget. */
  stop: boolean;
  stoppedBy: StopReason;
  /** Loss summed on the device since the last log. */
  lossSum?: tf.Scalar;
  lastGradNorm?: tf.Scalar;
  samplesSinceLog: number;
  tokensSinceLog: number;
  lastLogTime: number;
  trainable: number;
  warnedLossGrowth: boolean;
}

/** A logged loss this many times the first step's loss gets a warning (once per run). */
const LOSS_GROWTH_WARNING = 100;

export class Trainer {
  readonly model: TrainableModel;
  readonly args: ResolvedArguments;
  readonly trainDataset?: Example[];
  readonly evalDataset?: Example[];
  readonly computeMetrics?: ComputeMetrics;
  history = new TrainingHistory();
  private optimizer?: AdamW;

  constructor(options: TrainerOptions) {
    this.model = options.model;
    this.args = resolveArguments(options.args);
    this.trainDataset = options.trainDataset;
    this.evalDataset = options.evalDataset;
    this.computeMetrics = options.computeMetrics;
    if (this.args.evalStrategy !== "no" && !this.evalDataset?.length) {
      throw new CourseError(
        "train/no-eval-dataset",
        this.evalDataset
          ? `evalStrategy is "${this.args.evalStrategy}" but evalDataset is empty`
          : `evalStrategy is "${this.args.evalStrategy}" but no evalDataset was given`,
        '평가하려면 예제가 1개 이상 든 evalDataset을 주세요. 평가 없이 학습하려면 evalStrategy: "no"로 두세요.',
      );
    }
  }

  private get numLabels(): number | undefined {
    return this.model.config?.num_labels as number | undefined;
  }

  private get floatLabels(): boolean {
    return this.numLabels === 1;
  }

  /** Updates per epoch: one per `gradientAccumulationSteps` batches, a short group at the end counts. */
  updatesPerEpoch(): number {
    const n = this.trainDataset?.length ?? 0;
    return Math.ceil(
      Math.ceil(n / this.args.batchSize) / this.args.gradientAccumulationSteps,
    );
  }

  totalSteps(): number {
    return this.args.maxSteps > 0
      ? this.args.maxSteps
      : this.updatesPerEpoch() * this.args.numTrainEpochs;
  }

  /**
   * Trains, as Hugging Face's `Trainer.train` (`_inner_training_loop`): prepare the run (resume
   * from a checkpoint if asked), compute frozen features once (feature extraction), then one
   * `runEpoch` per epoch until the step budget, early stopping, Interrupt or the time budget
   * ends it; at the end the best checkpoint's weights come back (`loadBestModelAtEnd`).
   */
  async train(
    options: { resumeFromCheckpoint?: string | boolean } = {},
  ): Promise<TrainOutput> {
    const run = await this.prepareRun(options);
    try {
      await this.cacheFeatures(run);
      while (
        !run.stop && run.state.epoch < run.numEpochs &&
        run.state.globalStep < run.totalSteps
      ) {
        await this.runEpoch(run);
      }
      await this.finishRun(run);
    } finally {
      this.releaseRun(run);
    }
    return this.trainOutput(run);
  }

  /**
   * Everything a run needs before its first step: checks, schedule, a fresh AdamW, the seeded
   * streams, the loop counters (from the checkpoint when resuming) and the progress display.
   */
  private async prepareRun(
    options: { resumeFromCheckpoint?: string | boolean },
  ): Promise<TrainingRun> {
    refuseQueuedAfterInterrupt("Trainer.train");
    const args = this.args;
    // An Interrupt pressed while nothing ran must not stop this run at its first step.
    clearInterrupt();
    const dataset = this.requireTrainDataset();
    checkLabels(dataset, this.numLabels);
    if (this.evalDataset) checkLabels(this.evalDataset, this.numLabels);
    if (args.freeze === "feature_extraction") requireHead(this.model);

    const updatesPerEpoch = this.updatesPerEpoch();
    const totalSteps = this.totalSteps();
    const schedule = this.createScheduler(totalSteps);
    const optimizer = this.createOptimizer();
    this.seedRandomStreams(args.seed);
    this.history = new TrainingHistory();
    const state: LoopState = {
      globalStep: 0,
      epoch: 0,
      stepInEpoch: 0,
      evalsWithoutImprovement: 0,
      elapsedS: 0,
      pendingLossSum: 0,
      pendingLossCount: 0,
    };
    this.lastGoodCheckpoint = undefined;
    // A save killed midway (kill -9) leaves its temp folder: clean up before writing new ones.
    if (args.outputDir) await removeStaleTempFolders(args.outputDir);
    if (options.resumeFromCheckpoint) {
      await this.resume(options.resumeFromCheckpoint, state, optimizer);
    }
    this.lossFiniteThrough = state.globalStep;
    this.warnIfNothingIsSaved(totalSteps);

    const params = this.model.namedParameters();
    const hfNameOf = new Map<string, string>();
    for (const [name, v] of params) {
      if (!hfNameOf.has(v.name)) hfNameOf.set(v.name, name);
    }
    const startedAt = performance.now() - state.elapsedS * 1000;
    const elapsed = () => (performance.now() - startedAt) / 1000;
    return {
      dataset,
      state,
      schedule,
      optimizer,
      params,
      hfNameOf,
      updatesPerEpoch,
      totalSteps,
      numEpochs: Math.ceil(totalSteps / updatesPerEpoch),
      progress: new ProgressDisplay({
        mode: args.progress,
        liveLossCurve: args.liveLossCurve,
      }),
      lossCurve: this.history.train.map((r) => ({
        step: r.step,
        loss: r.loss,
      })),
      elapsed,
      stop: false,
      stoppedBy: "completed",
      samplesSinceLog: 0,
      tokensSinceLog: 0,
      lastLogTime: elapsed(),
      trainable: 0,
      warnedLossGrowth: false,
    };
  }

  /** HF `create_scheduler`: warmup, then `lrSchedulerType`, over the run's steps. */
  private createScheduler(totalSteps: number): LrSchedule {
    const args = this.args;
    return new LrSchedule({
      type: args.lrSchedulerType,
      learningRate: args.learningRate,
      warmupSteps: resolveWarmupSteps(
        totalSteps,
        args.warmupSteps,
        args.warmupRatio,
      ),
      totalSteps,
    });
  }

  /** HF `create_optimizer`: a fresh AdamW (the previous run's is freed). */
  private createOptimizer(): AdamW {
    const args = this.args;
    this.optimizer?.dispose();
    return this.optimizer = new AdamW({
      learningRate: args.learningRate,
      beta1: args.adamBeta1,
      beta2: args.adamBeta2,
      epsilon: args.adamEpsilon,
      weightDecay: args.weightDecay,
    });
  }

  /**
   * Seeds the run's random streams, as HF's `set_seed(args.seed)`: the course-wide generator
   * (`setSeed`, read by `getRandom()`) and the dropout stream, a `SeededRandom` from
   * `seed ^ 0x5eed`. The model's own dropout stream (`model.bert.seeds`, lib/models'
   * `DropoutSeeds`) is replaced, for this and later runs, by one that draws `dropoutRng.seed()`:
   * both states go into a checkpoint's `rng_state.json` and `resume` puts them back, so a resumed
   * run draws exactly the dropout masks of an uninterrupted one.
   */
  private seedRandomStreams(seed: number): void {
    setSeed(seed);
    const rng = this.dropoutRng = new SeededRandom(seed ^ 0x5eed);
    if (this.model.bert?.seeds) {
      this.model.bert.seeds = { take: () => rng.seed() };
    }
  }

  /** Feature extraction with `cacheFeatures`: the frozen encoder runs once over the dataset. */
  private async cacheFeatures(run: TrainingRun): Promise<void> {
    const args = this.args;
    if (args.freeze !== "feature_extraction" || !args.cacheFeatures) return;
    run.progress.update(
      this.progressState(run, "특성 계산(인코더 1회 실행)"),
      true,
    );
    run.features = await computeFeatures(
      this.model,
      run.dataset,
      args.evalBatchSize,
      args.padTokenId,
    );
    run.featureSeconds = run.features.seconds;
  }

  /**
   * One epoch (or what is left of it after a resume): freeze for this epoch, the batch order,
   * then per optimizer step: train, maybe log, show progress, maybe evaluate, maybe save, and
   * stop when the run is over.
   */
  private async runEpoch(run: TrainingRun): Promise<void> {
    const args = this.args;
    const state = run.state;
    const groups = applyFreeze(this.model, args.freeze, state.epoch);
    run.trainable = countTrainable(this.model);
    this.history.trainableParams[`epoch ${state.epoch}`] = run.trainable;
    const variables = this.model.trainableVariables();
    const order = batchOrder(run.dataset, {
      batchSize: args.batchSize,
      shuffle: true,
      seed: args.seed + state.epoch,
      bucketByLength: args.bucketByLength,
    });
    if (groups.length === 0 || variables.length === 0) {
      throw new CourseError(
        "train/nothing-to-train",
        "No trainable parameters",
        "모든 파라미터가 고정(freeze)되었습니다. freeze 설정이나 model.setTrainable을 확인하세요.",
      );
    }
    const accumulation = args.gradientAccumulationSteps;
    for (
      let b = state.stepInEpoch * accumulation;
      b < order.length;
      b += accumulation
    ) {
      const lr = await this.trainingStep(
        run,
        order.slice(b, b + accumulation),
        variables,
      );
      const endOfEpoch = b + accumulation >= order.length;
      const lastStep = state.globalStep >= run.totalSteps;
      if (
        state.globalStep % args.loggingSteps === 0 || lastStep || endOfEpoch
      ) {
        await this.logTrainingLoss(run, lr);
      }
      run.progress.update(this.progressState(run));
      await run.progress.flush();

      if (endOfEpoch) {
        state.epoch += 1;
        state.stepInEpoch = 0;
      }
      const evaluated = await this.maybeEvaluate(run, endOfEpoch);
      const saved = await this.maybeSave(run, endOfEpoch, evaluated);
      if (lastStep) break;
      if (await this.shouldStop(run, saved)) break;
    }
    if (state.stepInEpoch >= order.length / accumulation) {
      state.epoch += 1;
      state.stepInEpoch = 0;
    }
  }

  /**
   * One optimizer step: gradients over the micro-batches, clipping, the AdamW update at this
   * step's learning rate; the loss is added to the device-side sum (no readback but the first
   * step's). Returns the learning rate it used.
   */
  private async trainingStep(
    run: TrainingRun,
    microBatches: number[][],
    variables: tf.Variable[],
  ): Promise<number> {
    const state = run.state;
    const { loss, grads } = this.accumulateGradients(
      microBatches,
      run.dataset,
      variables,
      run.hfNameOf,
      run.features,
    );
    const { grads: clipped, norm } = clipByGlobalNorm(
      grads,
      this.args.maxGradNorm,
    );
    const lr = run.schedule.lrAt(state.globalStep);
    run.optimizer.applyGradients(run.params, clipped, lr);
    for (const g of grads.values()) g.dispose();
    if (clipped !== grads) {
      for (const g of clipped.values()) g.dispose();
    }
    run.lastGradNorm?.dispose();
    run.lastGradNorm = norm;
    if (state.startLoss === undefined) {
      // One readback, on the first step only.
      const first = (await loss.data())[0];
      if (Number.isFinite(first)) state.startLoss = first;
    }
    const previous = run.lossSum;
    run.lossSum = previous
      ? tf.tidy(() => tf.add(previous, loss)) as tf.Scalar
      : tf.keep(loss);
    if (previous) {
      previous.dispose();
      loss.dispose();
    }
    state.pendingLossCount += 1;
    state.globalStep += 1;
    state.stepInEpoch += 1;
    this.history.lr.push({ step: state.globalStep, learning_rate: lr });
    for (const group of microBatches) {
      run.samplesSinceLog += group.length;
      run.tokensSinceLog += group.reduce(
        (s, i) => s + run.dataset[i].input_ids.length,
        0,
      );
    }
    return lr;
  }

  /**
   * A logging step: reads the loss sum back once, records the mean loss, grad norm and speed
   * since the last log, stops a run whose loss is no longer finite and warns (once) when the
   * loss has grown far above the first step's.
   */
  private async logTrainingLoss(run: TrainingRun, lr: number): Promise<void> {
    const state = run.state;
    const sum = run.lossSum ? (await run.lossSum.data())[0] : 0;
    run.lossSum?.dispose();
    run.lossSum = undefined;
    const meanLoss = (state.pendingLossSum + sum) /
      Math.max(1, state.pendingLossCount);
    state.pendingLossSum = 0;
    state.pendingLossCount = 0;
    if (!Number.isFinite(meanLoss)) {
      throw await this.divergedError(state, "loss");
    }
    this.lossFiniteThrough = state.globalStep;
    if (
      !run.warnedLossGrowth && state.startLoss !== undefined &&
      meanLoss > LOSS_GROWTH_WARNING * Math.max(state.startLoss, 0.01)
    ) {
      run.warnedLossGrowth = true;
      console.warn(lossGrowthWarning(state, meanLoss, this.args.learningRate));
    }
    const now = run.elapsed();
    const interval = Math.max(1e-9, now - run.lastLogTime);
    this.history.train.push({
      step: state.globalStep,
      epoch: this.epochProgress(run),
      loss: meanLoss,
      learning_rate: lr,
      grad_norm: (await run.lastGradNorm!.data())[0],
      samples_per_second: run.samplesSinceLog / interval,
      tokens_per_second: run.tokensSinceLog / interval,
      elapsed_s: now,
      trainable_params: run.trainable,
    });
    state.lastLoggedLoss = meanLoss;
    run.lossCurve.push({ step: state.globalStep, loss: meanLoss });
    run.samplesSinceLog = 0;
    run.tokensSinceLog = 0;
    run.lastLogTime = now;
  }

  /** `evalStrategy` "steps" every `evalSteps`, "epoch" at each epoch's end; returns whether it ran. */
  private async maybeEvaluate(
    run: TrainingRun,
    endOfEpoch: boolean,
  ): Promise<boolean> {
    const args = this.args;
    const state = run.state;
    const evalNow = (args.evalStrategy === "steps" &&
      state.globalStep % args.evalSteps === 0) ||
      (args.evalStrategy === "epoch" && endOfEpoch);
    if (!evalNow) return false;
    run.progress.update(this.progressState(run, "평가"), true);
    const metrics = await this.evaluate(this.evalDataset!, {
      step: state.globalStep,
      epochFloat: this.epochProgress(run),
      elapsedS: run.elapsed(),
    });
    run.stop = this.trackBest(metrics, state);
    return true;
  }

  /** `saveStrategy` "steps" every `saveSteps`, "epoch" at each epoch's end; returns whether it saved. */
  private async maybeSave(
    run: TrainingRun,
    endOfEpoch: boolean,
    afterEval: boolean,
  ): Promise<boolean> {
    const args = this.args;
    const state = run.state;
    const saveNow = (args.saveStrategy === "steps" &&
      state.globalStep % args.saveSteps === 0) ||
      (args.saveStrategy === "epoch" && endOfEpoch);
    if (!saveNow) return false;
    await this.saveRun(run, afterEval);
    return true;
  }

  /** A checkpoint of the run now (the loss not yet logged moves into the saved state first). */
  private async saveRun(run: TrainingRun, afterEval: boolean): Promise<void> {
    run.lossSum = await flushLoss(run.lossSum, run.state);
    await this.save(run.state, run.schedule, run.elapsed(), afterEval);
  }

  /**
   * After a step: early stopping (set by the evaluation), Interrupt, or the time budget (which
   * saves where it stops unless this step just saved) end the run.
   */
  private async shouldStop(
    run: TrainingRun,
    savedThisStep: boolean,
  ): Promise<boolean> {
    const args = this.args;
    if (run.stop) {
      run.stoppedBy = "early_stopping";
      return true;
    }
    if (await interruptPending()) {
      run.stoppedBy = "interrupted";
      run.stop = true;
      return true;
    }
    if (
      args.timeBudgetSeconds !== undefined &&
      run.elapsed() >= args.timeBudgetSeconds
    ) {
      run.stoppedBy = "time_budget";
      run.stop = true;
      if (args.saveStrategy !== "no" && !savedThisStep) {
        await this.saveRun(run, false);
      }
      return true;
    }
    return false;
  }

  /** The best checkpoint's weights back (`loadBestModelAtEnd`), then the last progress redraw. */
  private async finishRun(run: TrainingRun): Promise<void> {
    const state = run.state;
    if (
      this.args.loadBestModelAtEnd && state.bestCheckpoint &&
      run.stoppedBy !== "interrupted"
    ) {
      await restoreModelWeights(this.model, state.bestCheckpoint);
    }
    await run.progress.close(
      this.progressState(
        run,
        run.stoppedBy === "completed" ? "완료" : `중단: ${run.stoppedBy}`,
      ),
    );
  }

  /** Frees the run's tensors and unfreezes the model, whether the run ended well or threw. */
  private releaseRun(run: TrainingRun): void {
    run.lossSum?.dispose();
    run.lastGradNorm?.dispose();
    disposeFeatures(run.features);
    this.model.setTrainable("all", true);
  }

  /** HF's `TrainOutput` (an interrupted run throws instead, keeping model and history). */
  private trainOutput(run: TrainingRun): TrainOutput {
    const args = this.args;
    const state = run.state;
    if (run.stoppedBy === "interrupted") {
      throw interruptedError(
        "Trainer.train",
        `${state.globalStep}/${run.totalSteps}단계까지 학습한 모델(trainer.model)과 기록(trainer.history)은 그 상태로 남아 있습니다.`,
      );
    }
    const runtime = run.elapsed();
    const trainLosses = this.history.train.map((r) => r.loss);
    return {
      globalStep: state.globalStep,
      trainingLoss: trainLosses.length
        ? trainLosses.reduce((a, b) => a + b, 0) / trainLosses.length
        : NaN,
      stoppedBy: run.stoppedBy,
      metrics: {
        train_runtime: runtime,
        train_samples_per_second:
          (state.globalStep * args.batchSize * args.gradientAccumulationSteps) /
          runtime,
        train_steps_per_second: state.globalStep / runtime,
        epoch: this.epochProgress(run),
      },
      history: this.history,
      bestCheckpoint: state.bestCheckpoint,
      featureSeconds: run.featureSeconds,
    };
  }

  /** Epochs done as a fraction, e.g. 1.25 a quarter into the second epoch. */
  private epochProgress(run: TrainingRun): number {
    return run.state.epoch + run.state.stepInEpoch / run.updatesPerEpoch;
  }

  private progressState(run: TrainingRun, phase = "학습"): ProgressState {
    const state = run.state;
    return {
      step: state.globalStep,
      totalSteps: run.totalSteps,
      epoch: this.epochProgress(run),
      numEpochs: run.numEpochs,
      loss: state.lastLoggedLoss,
      learningRate: run.schedule.lrAt(Math.max(0, state.globalStep - 1)),
      samplesPerSecond: this.history.train.at(-1)?.samples_per_second,
      elapsedS: run.elapsed(),
      trainableParams: run.trainable,
      phase,
      evalMetrics: this.history.eval.at(-1),
      lossCurve: run.lossCurve,
    };
  }

  /**
   * Loss and gradients for one optimizer step, summed over the micro-batches and scaled by
   * 1/accumulation (the mean, as HF). Returns the unscaled mean loss as a device scalar.
   */
  private accumulateGradients(
    microBatches: number[][],
    dataset: Example[],
    variables: tf.Variable[],
    hfNameOf: Map<string, string>,
    features?: FeatureCache,
  ): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const scale = 1 / microBatches.length;
    const grads = new Map<string, tf.Tensor>();
    let lossTotal: tf.Scalar | undefined;
    for (const indices of microBatches) {
      const { value, grads: named } = this.lossAndGrads(
        indices,
        dataset,
        variables,
        features,
        scale,
      );
      for (const [tfName, g] of Object.entries(named)) {
        const name = hfNameOf.get(tfName) ?? tfName;
        const previous = grads.get(name);
        if (previous) {
          grads.set(name, tf.add(previous, g));
          previous.dispose();
          g.dispose();
        } else {
          grads.set(name, g);
        }
      }
      if (lossTotal) {
        const next = tf.add(lossTotal, value) as tf.Scalar;
        lossTotal.dispose();
        value.dispose();
        lossTotal = next;
      } else {
        lossTotal = value;
      }
    }
    const loss = tf.tidy(() =>
      tf.div(lossTotal!, microBatches.length)
    ) as tf.Scalar;
    lossTotal!.dispose();
    return { loss, grads };
  }

  private lossAndGrads(
    indices: number[],
    dataset: Example[],
    variables: tf.Variable[],
    features: FeatureCache | undefined,
    scale: number,
  ): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    if (features) {
      const batch = featureBatch(features, dataset, indices, this.floatLabels);
      try {
        const result = tf.variableGrads(() => {
          const logits = this.model.headForward!(batch.features, {
            training: true,
          });
          const loss = this.model.computeLoss!(logits, batch.labels!);
          return tf.mul(loss, scale) as tf.Scalar;
        }, variables);
        return {
          value: tf.tidy(() => tf.div(result.value, scale)) as tf.Scalar,
          grads: disposeValue(result),
        };
      } finally {
        batch.features.dispose();
        disposeLabels(batch.labels);
      }
    }
    const inputs = collateExamples(indices.map((i) => dataset[i]), {
      padTokenId: this.args.padTokenId,
      floatLabels: this.floatLabels,
    });
    try {
      const result = tf.variableGrads(() => {
        const out = this.model.forward(inputs, { training: true });
        if (!out.loss) throw noLossError();
        return tf.mul(out.loss, scale) as tf.Scalar;
      }, variables);
      return {
        value: tf.tidy(() => tf.div(result.value, scale)) as tf.Scalar,
        grads: disposeValue(result),
      };
    } finally {
      disposeInputs(inputs);
    }
  }

  /** Metrics on `dataset`, prefixed `eval_` as HF does; logged into the history when training. */
  async evaluate(
    dataset: Example[] | undefined = this.evalDataset,
    at?: { step: number; epochFloat: number; elapsedS: number },
  ): Promise<Record<string, number>> {
    const output = await this.predict(
      dataset ?? this.requireEvalDataset(),
      "eval",
    );
    if (at) {
      this.history.eval.push({
        step: at.step,
        epoch: at.epochFloat,
        elapsed_s: at.elapsedS,
        ...output.metrics,
      });
    }
    return output.metrics;
  }

  /** Logits, argmax predictions, labels and metrics for every example, in dataset order. */
  async predict(
    dataset: Example[],
    metricPrefix = "test",
  ): Promise<PredictionOutput> {
    refuseQueuedAfterInterrupt(
      metricPrefix === "eval" ? "Trainer.evaluate" : "Trainer.predict",
    );
    if (!Array.isArray(dataset) || dataset.length === 0) {
      const call = metricPrefix === "eval" ? "evaluate" : "predict";
      throw new CourseError(
        "train/empty-dataset",
        Array.isArray(dataset)
          ? `${call}() got an empty dataset (0 examples)`
          : `${call}() needs an array of examples, got ${typeof dataset}`,
        "평가·예측할 예제가 없습니다. 토큰화한 예제 배열(tokenizeDataset 결과)을 넘기고, " +
          "데이터를 불러온 결과나 filter·slice 범위가 비어 있지 않은지 확인하세요.",
      );
    }
    checkLabels(dataset, this.numLabels);
    const started = performance.now();
    const order = batchOrder(dataset, {
      batchSize: this.args.evalBatchSize,
      shuffle: false,
      seed: 0,
      bucketByLength: true,
    });
    const logits: (number[] | number[][])[] = new Array(dataset.length);
    let lossSum = 0, lossWeight = 0;
    for (const [done, indices] of order.entries()) {
      if (await interruptPending()) {
        throw interruptedError(
          "평가/예측",
          `${done}/${order.length}개 배치에서 멈췄습니다. 모델은 그대로입니다.`,
        );
      }
      const inputs = collateExamples(indices.map((i) => dataset[i]), {
        padTokenId: this.args.padTokenId,
        floatLabels: this.floatLabels,
      });
      const { batchLogits, loss } = tf.tidy(() => {
        const out = this.model.forward(inputs, { training: false });
        return { batchLogits: logitsOf(out), loss: out.loss };
      });
      disposeInputs(inputs);
      const values = (await batchLogits.data()) as Float32Array;
      const shape = batchLogits.shape;
      batchLogits.dispose();
      if (loss) {
        lossSum += (await loss.data())[0] * indices.length;
        lossWeight += indices.length;
        loss.dispose();
      }
      unbatchLogits(values, shape, indices, dataset, logits);
    }
    const labels = dataset.map((e) =>
      labelOf(e) ?? [e.start_positions as number, e.end_positions as number]
    );
    const predictions = logits.map((l) =>
      Array.isArray(l[0])
        ? (l as number[][]).map((row) => argmaxRows(row, row.length)[0])
        : argmaxRows(l as number[], l.length)[0]
    ) as number[] | number[][];
    const prediction: EvalPrediction = {
      logits: logits as number[][] | number[][][],
      predictions,
      labels: labels as (number | number[])[],
    };
    const metrics: Record<string, number> = {};
    if (lossWeight > 0) metrics[`${metricPrefix}_loss`] = lossSum / lossWeight;
    const computed = this.computeMetrics?.(prediction) ??
      defaultMetrics(prediction, this.numLabels);
    for (const [k, v] of Object.entries(computed)) {
      metrics[`${metricPrefix}_${k}`] = v;
    }
    const seconds = (performance.now() - started) / 1000;
    metrics[`${metricPrefix}_runtime`] = seconds;
    metrics[`${metricPrefix}_samples_per_second`] = dataset.length / seconds;
    return { ...prediction, metrics };
  }

  /** Best-metric bookkeeping; returns true when early stopping should stop training. */
  private trackBest(
    metrics: Record<string, number>,
    state: LoopState,
  ): boolean {
    const value = metrics[this.args.metricForBestModel];
    if (value === undefined) {
      throw new CourseError(
        "train/unknown-metric",
        `metricForBestModel ${this.args.metricForBestModel} is not among ${
          Object.keys(metrics).join(", ")
        }`,
        'metricForBestModel은 computeMetrics가 돌려주는 이름(예: "accuracy") 또는 "loss"로 지정하세요.',
      );
    }
    const better = state.bestMetric === undefined ||
      (this.args.greaterIsBetter
        ? value > state.bestMetric
        : value < state.bestMetric);
    if (better) {
      state.bestMetric = value;
      state.evalsWithoutImprovement = 0;
      state.bestCheckpoint = undefined; // set by the save that follows, if any
      this.pendingBest = true;
    } else {
      state.evalsWithoutImprovement += 1;
      this.pendingBest = false;
    }
    const patience = this.args.earlyStoppingPatience;
    return patience !== undefined && state.evalsWithoutImprovement >= patience;
  }

  private pendingBest = false;
  private dropoutRng = new SeededRandom(42);
  /** The newest checkpoint of this run (saved, or resumed from): its weights are finite. */
  private lastGoodCheckpoint?: string;
  /** Step up to which the training loss was read and found finite. */
  private lossFiniteThrough = 0;

  private async save(
    state: LoopState,
    schedule: LrSchedule,
    elapsedS: number,
    afterEval: boolean,
  ) {
    // Only a run whose loss and weights are finite is saved (a NaN checkpoint would then rotate
    // the good ones away).
    if (!Number.isFinite(state.pendingLossSum)) {
      throw await this.divergedError(state, "loss");
    }
    this.lossFiniteThrough = state.globalStep;
    const outputDir = this.args.outputDir!;
    const path = `${outputDir}/checkpoint-${state.globalStep}`;
    if (afterEval && this.pendingBest) state.bestCheckpoint = path;
    state.elapsedS = elapsedS;
    const trainerState = {
      global_step: state.globalStep,
      epoch: state.epoch + state.stepInEpoch / this.updatesPerEpoch(),
      loop: state,
      best_metric: state.bestMetric ?? null,
      best_model_checkpoint: state.bestCheckpoint ?? null,
      metric_for_best_model: this.args.metricForBestModel,
      history: this.history.toJSON(),
      args: this.args,
    };
    let saved: string;
    try {
      saved = await saveCheckpoint(outputDir, state.globalStep, {
        model: this.model,
        optimizer: this.optimizer!,
        trainerState,
        schedulerState: schedule.toJSON() as unknown as Record<string, unknown>,
        rngState: {
          global: getRandom().getState(),
          dropout: this.dropoutRng.getState(),
        },
      });
    } catch (error) {
      if (
        error instanceof CourseError &&
        error.code === "train/non-finite-weights"
      ) {
        throw await this.divergedError(state, "weights");
      }
      throw error;
    }
    this.lastGoodCheckpoint = saved;
    await rotateCheckpoints(
      outputDir,
      this.args.saveTotalLimit,
      state.bestCheckpoint,
      [saved],
    );
  }

  private async resume(
    from: string | boolean,
    state: LoopState,
    optimizer: AdamW,
  ): Promise<void> {
    const path = from === true
      ? await latestCheckpoint(this.args.outputDir ?? "")
      : (from as string);
    if (!path) {
      throw new CourseError(
        "train/no-checkpoint",
        `No checkpoint found in ${this.args.outputDir}`,
        "outputDir에 checkpoint-<step> 폴더가 없습니다. saveStrategy를 켜고 학습했는지 확인하세요.",
      );
    }
    const checkpoint = await readCheckpoint(path);
    await restoreModelWeights(this.model, path);
    this.lastGoodCheckpoint = path;
    optimizer.loadStateDict(checkpoint.optimizer);
    const saved = checkpoint.trainerState as {
      loop: LoopState;
      history: ReturnType<TrainingHistory["toJSON"]>;
    };
    Object.assign(state, saved.loop);
    this.history = TrainingHistory.fromJSON(saved.history);
    const rng = checkpoint.rngState as { global: number; dropout: number };
    getRandom().setState(rng.global);
    this.dropoutRng.setState(rng.dropout);
  }

  /**
   * The error for a run that diverged, saying only what is true: which checkpoint of this run is
   * still there, and what the model in memory holds. When its weights are no longer finite, it is
   * put back at that checkpoint (or the error says that it cannot be used).
   */
  private async divergedError(
    state: LoopState,
    what: "loss" | "weights",
  ): Promise<CourseError> {
    const step = state.globalStep;
    const last = this.lastGoodCheckpoint;
    const lastExists = last !== undefined &&
      await Deno.stat(join(last, "trainer_state.json")).then(
        () => true,
        () => false,
      );
    const notes: string[] = [];
    if (lastExists) {
      notes.push(
        `마지막 정상 체크포인트 ${last}는 그대로 있습니다 (NaN이 든 체크포인트는 저장하지 않았습니다).`,
      );
    } else if (this.args.saveStrategy !== "no") {
      notes.push("저장된 체크포인트가 없습니다 (첫 저장 전에 발산했습니다).");
    }
    const badWeights = await nonFiniteParameters(this.model);
    if (badWeights.length === 0) {
      notes.push(
        `메모리의 모델 가중치에는 NaN/Infinity가 없습니다 (step ${step}의 상태).`,
      );
    } else if (lastExists) {
      try {
        await restoreModelWeights(this.model, last!);
        notes.push(
          `메모리의 모델은 NaN이 된 가중치 대신 ${last}의 가중치로 되돌렸습니다.`,
        );
      } catch {
        notes.push(
          `메모리의 모델 가중치에는 NaN/Infinity가 섞여 있고, ${last}에서 되돌리지도 못했습니다. ` +
            "모델을 다시 불러오세요.",
        );
      }
    } else {
      notes.push(
        "메모리의 모델 가중치에는 NaN/Infinity가 섞여 있어 쓸 수 없습니다. " +
          "모델을 다시 불러오세요(fromPretrained).",
      );
    }
    const checked = this.lossFiniteThrough;
    const when = step - checked <= 1 || checked <= 0
      ? `at step ${step}`
      : `by step ${step} (still finite at step ${checked})`;
    return new CourseError(
      what === "loss" ? "train/non-finite-loss" : "train/non-finite-weights",
      what === "loss"
        ? `Loss became NaN or Infinity ${when}`
        : nonFiniteWeightsMessage(step, badWeights),
      "학습률(learningRate)을 낮추고(예: 2e-5), maxGradNorm: 1.0으로 그래디언트를 자르고, " +
        "라벨 값이 0..num_labels-1 범위인지 확인하세요. " + notes.join(" "),
    );
  }

  /** A warning when saveStrategy / evalStrategy "steps" would never fire in this run. */
  private warnIfNothingIsSaved(totalSteps: number): void {
    const args = this.args;
    if (args.timeBudgetSeconds !== undefined) return; // it saves where time runs out
    const checks = [
      [
        "saveStrategy",
        args.saveStrategy,
        "saveSteps",
        args.saveSteps,
        "체크포인트를 저장하지",
      ],
      [
        "evalStrategy",
        args.evalStrategy,
        "evalSteps",
        args.evalSteps,
        "평가하지",
      ],
    ] as const;
    for (const [strategyName, strategy, name, steps, what] of checks) {
      if (strategy === "steps" && steps > totalSteps) {
        console.warn(
          `[경고] ${name}(${steps})가 이번 학습의 전체 스텝 수(${
            Math.ceil(totalSteps)
          })보다 커서 학습 중에 한 번도 ${what} 않습니다. ` +
            `${name}를 줄이거나 ${strategyName}: "epoch"를 쓰세요.`,
        );
      }
    }
  }

  private requireTrainDataset(): Example[] {
    if (!this.trainDataset?.length) {
      throw new CourseError(
        "train/no-train-dataset",
        "No trainDataset (or it is empty)",
        "Trainer를 만들 때 trainDataset에 토큰화한 예제 배열(tokenizeDataset 결과)을 주세요.",
      );
    }
    return this.trainDataset;
  }

  private requireEvalDataset(): Example[] {
    throw new CourseError(
      "train/no-eval-dataset",
      "No dataset to evaluate",
      "trainer.evaluate(dataset)에 데이터셋을 넘기거나 Trainer에 evalDataset을 주세요.",
    );
  }

  dispose(): void {
    this.optimizer?.dispose();
  }
}

function lossGrowthWarning(
  state: LoopState,
  loss: number,
  learningRate: number,
): string {
  const p = (x: number) => Number(x.toPrecision(3));
  return `[경고] 학습 손실이 첫 스텝(${
    p(state.startLoss!)
  })보다 ${LOSS_GROWTH_WARNING}배 넘게 ` +
    `커졌습니다(step ${state.globalStep}: ${
      p(loss)
    }). 학습이 발산하고 있습니다. ` +
    `learningRate(지금 ${learningRate})를 낮춰서 다시 학습하세요 (BERT 파인튜닝은 보통 2e-5 ~ 5e-5). ` +
    "maxGradNorm으로 그래디언트를 잘라도 학습률이 너무 크면 막지 못합니다.";
}

/** Moves the on-device loss sum into the host-side state (before a checkpoint stores it). */
async function flushLoss(
  lossSum: tf.Scalar | undefined,
  state: LoopState,
): Promise<undefined> {
  if (lossSum) {
    state.pendingLossSum += (await lossSum.data())[0];
    lossSum.dispose();
  }
  return undefined;
}

function disposeLabels(labels?: tf.Tensor | Record<string, tf.Tensor>) {
  if (labels instanceof tf.Tensor) labels.dispose();
  else if (labels) { for (const t of Object.values(labels)) t.dispose(); }
}

function disposeValue(
  result: { value: tf.Scalar; grads: tf.NamedTensorMap },
): tf.NamedTensorMap {
  result.value.dispose();
  return result.grads;
}

function noLossError(): CourseError {
  return new CourseError(
    "train/no-loss",
    "The model returned no loss",
    "학습 데이터의 각 예제에 label이 있는지 확인하세요. 라벨이 있어야 손실을 계산할 수 있습니다.",
  );
}

function logitsOf(out: ModelOutputs): tf.Tensor {
  if (out.logits) return out.logits;
  if (out.start_logits && out.end_logits) {
    return tf.stack([out.start_logits, out.end_logits], -1);
  }
  throw new CourseError(
    "train/no-logits",
    "The model returned no logits",
    "predict/evaluate는 분류·토큰 분류·추출형 질의응답 헤드가 있는 모델에서 쓰세요.",
  );
}

/** Cuts padded batch logits back into per-example arrays (token logits cut to each example's length). */
function unbatchLogits(
  values: Float32Array,
  shape: number[],
  indices: number[],
  dataset: Example[],
  out: (number[] | number[][])[],
): void {
  if (shape.length === 2) {
    const cols = shape[1];
    indices.forEach((
      i,
      row,
    ) => (out[i] = Array.from(values.subarray(row * cols, (row + 1) * cols))));
    return;
  }
  const [, length, cols] = shape;
  indices.forEach((i, row) => {
    const len = Math.min(length, dataset[i].input_ids.length);
    const rows: number[][] = [];
    for (let t = 0; t < len; t++) {
      const start = (row * length + t) * cols;
      rows.push(Array.from(values.subarray(start, start + cols)));
    }
    out[i] = rows;
  });
}

function defaultMetrics(
  p: EvalPrediction,
  numLabels?: number,
): Record<string, number> {
  if (
    numLabels === 1 || typeof p.labels[0] !== "number" ||
    typeof p.predictions[0] !== "number"
  ) return {};
  return {
    accuracy: accuracy(p.predictions as number[], p.labels as number[]),
  };
}

/**
 * Labels must be numbers: integers in [0, num_labels) for classification (token labels may also
 * be -100), any finite number for regression; checked before training.
 */
export function checkLabels(
  dataset: Example[],
  numLabels: number | undefined,
): void {
  for (let i = 0; i < dataset.length; i++) {
    const label = labelOf(dataset[i]);
    if (label === undefined) continue;
    const values: unknown[] = Array.isArray(label) ? label : [label];
    for (const v of values) {
      if (typeof v !== "number") throw labelTypeError(i, v);
    }
    if (!numLabels || numLabels === 1) continue;
    for (const v of values as number[]) {
      if (v === -100 && typeof label !== "number") continue;
      if (!Number.isInteger(v) || v < 0 || v >= numLabels) {
        throw new CourseError(
          "train/label-out-of-range",
          `Example ${i} has label ${v}, but the model has num_labels = ${numLabels}`,
          `라벨은 0부터 ${
            numLabels - 1
          }까지의 정수여야 합니다. 모델을 num_labels에 맞게 만들었는지, ` +
            "라벨을 숫자로 바꿨는지(예: 긍정=1, 부정=0) 확인하세요.",
        );
      }
    }
  }
}

function labelTypeError(index: number, value: unknown): CourseError {
  const type = value === null ? "null" : typeof value;
  const shown = typeof value === "string"
    ? JSON.stringify(value)
    : String(value);
  return new CourseError(
    "train/label-type",
    `Example ${index} has label ${shown}, a ${type}, not a number`,
    (typeof value === "string"
      ? `라벨이 숫자가 아니라 문자열(${shown})입니다. `
      : `라벨이 숫자가 아니라 ${type} 값입니다. `) +
      "라벨을 숫자로 바꾸세요: 숫자 문자열이면 Number(label), 이름이면 label2id[label] " +
      "(예: { 부정: 0, 긍정: 1 }). CSV/TSV의 label 열이 문자열로 읽혔을 수 있습니다.",
  );
}
