/** Inference with our tfjs BERT (lib/models), in eval mode (no dropout). */
import * as tf from "@tensorflow/tfjs-core";
import type { PaddedBatch } from "./batching.ts";
import type { EngineOutputs, InferenceEngine } from "./engine.ts";

/** What the engine needs from a lib/models model. */
export interface ForwardModel {
  forward(
    inputs: Record<string, tf.Tensor>,
    options?: { training?: boolean },
  ): Record<string, unknown>;
  dispose(): void;
}

export function createTfjsEngine(
  model: ForwardModel,
  outputNames: readonly string[],
  { ownsModel }: { ownsModel: boolean },
): InferenceEngine {
  return {
    name: "tfjs",
    async run(batch: PaddedBatch): Promise<EngineOutputs> {
      const tensors = tf.tidy(() => {
        const outputs = model.forward({
          input_ids: tf.tensor2d(batch.input_ids, undefined, "int32"),
          attention_mask: tf.tensor2d(batch.attention_mask, undefined, "int32"),
          token_type_ids: tf.tensor2d(batch.token_type_ids, undefined, "int32"),
        }, { training: false });
        // Keep only what the task reads; tidy frees hidden states etc.
        return Object.fromEntries(
          outputNames.filter((name) => outputs[name] instanceof tf.Tensor)
            .map((name) => [name, outputs[name] as tf.Tensor]),
        );
      });
      const result: EngineOutputs = {};
      for (const [name, tensor] of Object.entries(tensors)) {
        result[name] = {
          data: await tensor.data() as Float32Array,
          dims: [...tensor.shape],
        };
        tensor.dispose();
      }
      return result;
    },
    dispose() {
      if (ownsModel) model.dispose();
      return Promise.resolve();
    },
  };
}
