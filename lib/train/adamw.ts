/**
 * AdamW as torch.optim.AdamW computes it: decoupled weight decay (p *= 1 - lr*wd), bias-corrected
 * moments, eps added after the bias-corrected sqrt(v). Moments live on the device: as tfjs
 * variables updated with tfjs ops, or on the native engine in TensorFlow resource variables updated
 * by one fused kernel per parameter (`NativeMoments`). The step count is per parameter, as in
 * torch, so a parameter unfrozen later starts its own bias correction from step 1.
 */
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../runtime/errors.ts";
import {
  type AdamScalars,
  applyAdam,
  nativeKernels,
  ResourceVariable,
} from "../runtime/native_ops.ts";

export interface AdamWOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Decides per Hugging Face parameter name whether weight decay applies. */
  decayFilter?: (name: string) => boolean;
}

/** BERT's rule (and the HF Trainer's): no decay on biases and LayerNorm parameters. */
export function shouldDecay(name: string): boolean {
  return !/(^|\.)bias$/.test(name) && !/layer_?norm/i.test(name);
}

/** One parameter's moments and step count, on the engine that updates it. */
interface MomentState {
  moments: TfjsMoments | NativeMoments;
  step: number;
}

/** The scalars of one update: torch's step size, decay factor and bias corrections. */
interface StepHyper {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  step: number;
  decayFactor: number;
}

/** Moments as tfjs variables, updated with tfjs ops (every backend). */
class TfjsMoments {
  constructor(readonly expAvg: tf.Variable, readonly expAvgSq: tf.Variable) {}

  static from(expAvg: tf.Tensor, expAvgSq: tf.Tensor): TfjsMoments {
    return new TfjsMoments(
      tf.variable(expAvg, false, undefined, "float32"),
      tf.variable(expAvgSq, false, undefined, "float32"),
    );
  }

  update(param: tf.Variable, grad: tf.Tensor, h: StepHyper): void {
    const stepSize = h.learningRate / (1 - h.beta1 ** h.step);
    const biasCorrection2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
    tf.tidy(() => {
      const expAvg = tf.add(
        tf.mul(this.expAvg, h.beta1),
        tf.mul(grad, 1 - h.beta1),
      );
      const expAvgSq = tf.add(
        tf.mul(this.expAvgSq, h.beta2),
        tf.mul(tf.square(grad), 1 - h.beta2),
      );
      const denom = tf.add(
        tf.div(tf.sqrt(expAvgSq), biasCorrection2Sqrt),
        h.epsilon,
      );
      const decayed = h.decayFactor === 1
        ? param
        : tf.mul(param, h.decayFactor);
      const updated = tf.sub(decayed, tf.mul(tf.div(expAvg, denom), stepSize));
      this.expAvg.assign(expAvg);
      this.expAvgSq.assign(expAvgSq);
      param.assign(updated);
    });
  }

  /** [exp_avg, exp_avg_sq] as new tensors (the caller disposes them). */
  read(): [tf.Tensor, tf.Tensor] {
    return [this.expAvg.clone(), this.expAvgSq.clone()];
  }

  dispose(): void {
    this.expAvg.dispose();
    this.expAvgSq.dispose();
  }
}

/**
 * Moments in TensorFlow resource variables, updated by `ResourceApplyAdam`, one fused in-place
 * kernel instead of ~14 tfjs ops (native engine only). The kernel needs the parameter as a
 * resource too: each step copies the (decayed) tfjs value into a resource twin, updates it, and
 * hands the buffer back to the tfjs variable. The twin is emptied after the step, so between
 * steps the parameter exists once (an optimizer kept alive costs its moments only, as in torch),
 * and whatever assigned the tfjs variable in between (a checkpoint load) is what gets updated.
 *
 * TensorFlow's Adam puts ε inside the bias-corrected step, `lr·√(1−β2ᵗ)/(1−β1ᵗ)·m/(√v+ε̂)`; with
 * ε̂ = ε·√(1−β2ᵗ) that is exactly torch's `lr/(1−β1ᵗ)·m/(√v/√(1−β2ᵗ)+ε)`.
 */
class NativeMoments {
  private twin?: ResourceVariable;

  constructor(readonly m: ResourceVariable, readonly v: ResourceVariable) {}

  static from(expAvg: tf.Tensor, expAvgSq: tf.Tensor): NativeMoments {
    return new NativeMoments(
      new ResourceVariable(expAvg),
      new ResourceVariable(expAvgSq),
    );
  }

  update(
    param: tf.Variable,
    grad: tf.Tensor,
    h: StepHyper,
    scalars: AdamScalars,
  ): void {
    tf.tidy(() => {
      const start = h.decayFactor === 1 ? param : tf.mul(param, h.decayFactor);
      if (this.twin) this.twin.assign(start);
      else this.twin = new ResourceVariable(start);
      applyAdam(this.twin, this.m, this.v, scalars, grad);
      param.assign(this.twin.read());
      this.twin.release();
    });
  }

  read(): [tf.Tensor, tf.Tensor] {
    return [this.m.read(), this.v.read()];
  }

  dispose(): void {
    this.twin?.dispose();
    this.m.dispose();
    this.v.dispose();
  }
}

/** Moments starting from these values, on the engine that will update them. */
function momentsFrom(
  expAvg: tf.Tensor,
  expAvgSq: tf.Tensor,
): TfjsMoments | NativeMoments {
  return nativeKernels()
    ? NativeMoments.from(expAvg, expAvgSq)
    : TfjsMoments.from(expAvg, expAvgSq);
}

/** The shared scalars of a native step, one set per (step count) within one update. */
function nativeScalars(h: StepHyper): AdamScalars {
  const beta2Power = h.beta2 ** h.step;
  return tf.tidy(() => ({
    beta1Power: tf.keep(tf.scalar(h.beta1 ** h.step)),
    beta2Power: tf.keep(tf.scalar(beta2Power)),
    learningRate: tf.keep(tf.scalar(h.learningRate)),
    beta1: tf.keep(tf.scalar(h.beta1)),
    beta2: tf.keep(tf.scalar(h.beta2)),
    epsilon: tf.keep(tf.scalar(h.epsilon * Math.sqrt(1 - beta2Power))),
  }));
}

export interface AdamWStateTensors {
  /** `<param name>.exp_avg` and `<param name>.exp_avg_sq`, as Float32Array with shapes. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  steps: Record<string, number>;
  hyper: Required<Omit<AdamWOptions, "decayFilter">>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  weightDecay: number;
  learningRate: number;
  private readonly decayFilter: (name: string) => boolean;
  private readonly state = new Map<string, MomentState>();

  constructor(options: AdamWOptions = {}) {
    this.learningRate = options.learningRate ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.decayFilter = options.decayFilter ?? shouldDecay;
  }

  /**
   * One update. `params` and `grads` are keyed by the same parameter names; parameters without
   * a gradient are left alone (frozen ones).
   */
  applyGradients(
    params: Map<string, tf.Variable>,
    grads: Map<string, tf.Tensor>,
    learningRate = this.learningRate,
  ): void {
    const scalarsByStep = new Map<number, AdamScalars>();
    try {
      for (const [name, grad] of grads) {
        const param = params.get(name);
        if (!param) {
          throw new CourseError(
            "train/unknown-parameter",
            `Gradient for unknown parameter ${name}`,
            "옵티마이저에 넘긴 파라미터 이름과 그래디언트 이름이 같은지 확인하세요.",
          );
        }
        const state = this.momentsFor(name, param);
        state.step += 1;
        const hyper: StepHyper = {
          learningRate,
          beta1: this.beta1,
          beta2: this.beta2,
          epsilon: this.epsilon,
          step: state.step,
          decayFactor: this.decayFilter(name)
            ? 1 - learningRate * this.weightDecay
            : 1,
        };
        if (state.moments instanceof NativeMoments) {
          let scalars = scalarsByStep.get(state.step);
          if (!scalars) {
            scalars = nativeScalars(hyper);
            scalarsByStep.set(state.step, scalars);
          }
          state.moments.update(param, grad, hyper, scalars);
        } else {
          state.moments.update(param, grad, hyper);
        }
      }
    } finally {
      for (const scalars of scalarsByStep.values()) {
        tf.dispose(Object.values(scalars));
      }
    }
  }

  private momentsFor(name: string, param: tf.Variable): MomentState {
    let state = this.state.get(name);
    if (!state) {
      const zeros = tf.zerosLike(param);
      try {
        state = { moments: momentsFrom(zeros, zeros), step: 0 };
      } finally {
        zeros.dispose();
      }
      this.state.set(name, state);
    }
    return state;
  }

  /** Per-parameter step counts (torch's `state[p]["step"]`). */
  stepCounts(): Record<string, number> {
    return Object.fromEntries(
      [...this.state].map(([name, s]) => [name, s.step]),
    );
  }

  /** Reads the moments back from the device, for a checkpoint. */
  async stateDict(): Promise<AdamWStateTensors> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, s] of this.state) {
      const [expAvg, expAvgSq] = s.moments.read();
      try {
        tensors.set(`${name}.exp_avg`, {
          shape: expAvg.shape,
          data: (await expAvg.data()) as Float32Array,
        });
        tensors.set(`${name}.exp_avg_sq`, {
          shape: expAvgSq.shape,
          data: (await expAvgSq.data()) as Float32Array,
        });
      } finally {
        tf.dispose([expAvg, expAvgSq]);
      }
    }
    return {
      tensors,
      steps: this.stepCounts(),
      hyper: {
        learningRate: this.learningRate,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        weightDecay: this.weightDecay,
      },
    };
  }

  loadStateDict(state: Pick<AdamWStateTensors, "tensors" | "steps">): void {
    this.dispose();
    for (const [name, step] of Object.entries(state.steps)) {
      const expAvg = state.tensors.get(`${name}.exp_avg`);
      const expAvgSq = state.tensors.get(`${name}.exp_avg_sq`);
      if (!expAvg || !expAvgSq) {
        throw new CourseError(
          "train/bad-optimizer-state",
          `Optimizer state for ${name} is incomplete`,
          "체크포인트의 optimizer.safetensors가 손상되었습니다. 다른 체크포인트에서 이어서 학습하세요.",
        );
      }
      const m = tf.tensor(expAvg.data, expAvg.shape, "float32");
      const v = tf.tensor(expAvgSq.data, expAvgSq.shape, "float32");
      try {
        this.state.set(name, { moments: momentsFrom(m, v), step });
      } finally {
        tf.dispose([m, v]);
      }
    }
  }

  dispose(): void {
    for (const s of this.state.values()) s.moments.dispose();
    this.state.clear();
  }
}
