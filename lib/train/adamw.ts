/**
 * AdamW as torch.optim.AdamW computes it: decoupled weight decay (p *= 1 - lr*wd), bias-corrected
 * moments, eps added after the bias-corrected sqrt(v). Moments live on the device as tf.Variables;
 * the step count is per parameter, as in torch, so a parameter unfrozen later starts its own
 * bias correction from step 1.
 */
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../runtime/errors.ts";

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

interface MomentState {
  expAvg: tf.Variable;
  expAvgSq: tf.Variable;
  step: number;
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
    const { beta1, beta2, epsilon } = this;
    for (const [name, grad] of grads) {
      const param = params.get(name);
      if (!param) {
        throw new CourseError(
          "train/unknown-parameter",
          `Gradient for unknown parameter ${name}`,
          "옵티마이저에 넘긴 파라미터 이름과 그래디언트 이름이 같은지 확인하세요.",
        );
      }
      const moments = this.momentsFor(name, param);
      moments.step += 1;
      const biasCorrection1 = 1 - beta1 ** moments.step;
      const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** moments.step);
      const stepSize = learningRate / biasCorrection1;
      const decayFactor = this.decayFilter(name)
        ? 1 - learningRate * this.weightDecay
        : 1;
      tf.tidy(() => {
        const expAvg = tf.add(
          tf.mul(moments.expAvg, beta1),
          tf.mul(grad, 1 - beta1),
        );
        const expAvgSq = tf.add(
          tf.mul(moments.expAvgSq, beta2),
          tf.mul(tf.square(grad), 1 - beta2),
        );
        const denom = tf.add(
          tf.div(tf.sqrt(expAvgSq), biasCorrection2Sqrt),
          epsilon,
        );
        const decayed = decayFactor === 1 ? param : tf.mul(param, decayFactor);
        const updated = tf.sub(
          decayed,
          tf.mul(tf.div(expAvg, denom), stepSize),
        );
        moments.expAvg.assign(expAvg);
        moments.expAvgSq.assign(expAvgSq);
        param.assign(updated);
      });
    }
  }

  private momentsFor(name: string, param: tf.Variable): MomentState {
    let moments = this.state.get(name);
    if (!moments) {
      moments = {
        expAvg: tf.tidy(() =>
          tf.variable(tf.zerosLike(param), false, undefined, "float32")
        ),
        expAvgSq: tf.tidy(() =>
          tf.variable(tf.zerosLike(param), false, undefined, "float32")
        ),
        step: 0,
      };
      this.state.set(name, moments);
    }
    return moments;
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
      tensors.set(`${name}.exp_avg`, {
        shape: s.expAvg.shape,
        data: (await s.expAvg.data()) as Float32Array,
      });
      tensors.set(`${name}.exp_avg_sq`, {
        shape: s.expAvgSq.shape,
        data: (await s.expAvgSq.data()) as Float32Array,
      });
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
      this.state.set(name, {
        expAvg: tf.tidy(() =>
          tf.variable(tf.tensor(expAvg.data, expAvg.shape, "float32"), false)
        ),
        expAvgSq: tf.tidy(() =>
          tf.variable(
            tf.tensor(expAvgSq.data, expAvgSq.shape, "float32"),
            false,
          )
        ),
        step,
      });
    }
  }

  dispose(): void {
    for (const s of this.state.values()) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
    this.state.clear();
  }
}
