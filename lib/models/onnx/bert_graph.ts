/**
 * Builds the ONNX graph of a Hugging Face BERT (`BertModel` + one task head)
 * from its config and Hugging Face-layout weights. The graph mirrors
 * `modeling_bert.py` in eval mode (no dropout), with the same input and output
 * names that `optimum` exports and transformers.js reads.
 */
import { CourseError } from "../../runtime/errors.ts";
import { type Dim, GraphBuilder } from "./graph_builder.ts";
import { type HfStateDict, type HfTensor, transpose2d } from "./state_dict.ts";
import {
  type DynamicAxes,
  EXPORT_TASKS,
  type ExportedArchitecture,
  exportedHead,
  type ExportTask,
  headForExportTask,
  type HeadRow,
} from "../head_table.ts";

/** The config fields the graph needs (Hugging Face `config.json` names). */
export interface BertGraphConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  layer_norm_eps?: number;
  hidden_act?: string;
  architectures?: string[];
}

export { EXPORT_TASKS, type ExportTask };

/** The task that matches `config.architectures[0]` (as optimum guesses it). */
export function taskFromArchitectures(config: BertGraphConfig): ExportTask {
  const architecture = config.architectures?.[0] ?? "BertModel";
  return (exportedHead(architecture)?.onnx?.task ??
    "feature-extraction") as ExportTask;
}

/** One graph output a head builder made: its value and the sizes of its fixed axes, in order. */
export interface HeadGraphOutput {
  value: string;
  fixedDims: number[];
}

/**
 * Builds one head on the shared BERT graph: reads the graph inputs (named as
 * the row's `onnx.inputs`), returns the row's outputs by name.
 */
export type HeadGraphBuilder = (
  bert: BertGraph,
  inputs: Record<string, string>,
) => Record<string, HeadGraphOutput>;

/** The graph builder of each head in the table that has an ONNX graph. */
export const HEAD_GRAPHS: {
  readonly [A in ExportedArchitecture]: HeadGraphBuilder;
} = {
  BertModel(bert, inputs) {
    const sequence = bert.encode(inputs);
    const outputs: Record<string, HeadGraphOutput> = {
      last_hidden_state: { value: sequence, fixedDims: [bert.hiddenSize] },
    };
    if (bert.hasWeight("bert.pooler.dense.weight")) {
      outputs.pooler_output = {
        value: bert.pooler(sequence),
        fixedDims: [bert.hiddenSize],
      };
    }
    return outputs;
  },
  BertForSequenceClassification(bert, inputs) {
    const pooled = bert.pooler(bert.encode(inputs));
    return {
      logits: {
        value: bert.linear(pooled, "classifier"),
        fixedDims: [bert.outFeatures("classifier")],
      },
    };
  },
  BertForTokenClassification(bert, inputs) {
    return {
      logits: {
        value: bert.linear(bert.encode(inputs), "classifier"),
        fixedDims: [bert.outFeatures("classifier")],
      },
    };
  },
  BertForMaskedLM(bert, inputs) {
    return {
      logits: {
        value: bert.maskedLmHead(bert.encode(inputs)),
        fixedDims: [bert.vocabSize],
      },
    };
  },
  BertForQuestionAnswering(bert, inputs) {
    const g = bert.g;
    const spans = bert.linear(bert.encode(inputs), "qa_outputs"); // [B, S, 2]
    const [start, end] = g.node("Split", [spans], "qa_outputs.split", {
      axis: -1,
    }, 2);
    const lastAxis = g.addInt64Constant("const.axis_last", [-1]);
    const squeeze = (value: string, name: string) => ({
      value: g.op("Squeeze", [value, lastAxis], name),
      fixedDims: [],
    });
    return {
      start_logits: squeeze(start, "start_logits"),
      end_logits: squeeze(end, "end_logits"),
    };
  },
  BertForNextSentencePrediction(bert, inputs) {
    const pooled = bert.pooler(bert.encode(inputs));
    return {
      logits: {
        value: bert.linear(pooled, "cls.seq_relationship"),
        fixedDims: [2],
      },
    };
  },
};

// Hugging Face fills masked attention scores with the float32 minimum
// (torch.finfo(float32).min), so masked keys get exactly zero probability.
const FLOAT32_MIN = -3.4028234663852886e38;

export function buildBertGraph(
  config: BertGraphConfig,
  weights: HfStateDict,
  task: ExportTask,
): Uint8Array {
  const head = headForExportTask(task);
  if (!head?.onnx) {
    throw new CourseError(
      "ONNX_UNKNOWN_TASK",
      `Unknown export task "${task}"`,
      `task는 ${EXPORT_TASKS.join(", ")} 중 하나여야 합니다.`,
    );
  }
  return new BertGraph(config, weights).build(head);
}

/** The BERT graph under construction, with the pieces head builders use. */
export class BertGraph {
  readonly g = new GraphBuilder();
  private readonly eps: number;

  constructor(
    private readonly config: BertGraphConfig,
    private readonly weights: HfStateDict,
  ) {
    this.eps = config.layer_norm_eps ?? 1e-12;
    if (config.hidden_size % config.num_attention_heads !== 0) {
      throw new CourseError(
        "ONNX_BAD_CONFIG",
        `hidden_size ${config.hidden_size} is not divisible by num_attention_heads ${config.num_attention_heads}`,
        "config.json의 hidden_size가 num_attention_heads로 나누어떨어지는지 확인하세요.",
      );
    }
  }

  get hiddenSize(): number {
    return this.config.hidden_size;
  }

  get vocabSize(): number {
    return this.tensor("bert.embeddings.word_embeddings.weight", 2).shape[0];
  }

  hasWeight(name: string): boolean {
    return this.weights.has(name);
  }

  /** Inputs and outputs as the table row says; the head's builder in between. */
  build(head: HeadRow): Uint8Array {
    const g = this.g;
    const task = head.onnx!.task;
    const inputs: Record<string, string> = {};
    for (const [name, axes] of Object.entries(head.onnx!.inputs)) {
      inputs[name] = g.addInput({
        name,
        elemType: "int64",
        dims: Object.values(axes),
      });
    }
    const builder = HEAD_GRAPHS[head.architecture as ExportedArchitecture];
    const built = builder(this, inputs);
    for (const name of Object.keys(built)) {
      if (!Object.hasOwn(head.outputs, name)) {
        throw new Error(
          `${head.architecture} graph builds "${name}", which is not in its table row`,
        );
      }
    }
    for (const [name, axes] of Object.entries(head.outputs)) {
      const output = built[name];
      if (!output) {
        if (head.optionalOutputs?.includes(name)) continue;
        throw new Error(`${head.architecture} graph does not build "${name}"`);
      }
      g.addOutput(output.value, {
        name,
        elemType: "float32",
        dims: outputDims(axes, output.fixedDims),
      });
    }
    return g.toBytes(
      `bert_${task}`,
      `BERT (${this.config.num_hidden_layers} layers, hidden ${this.config.hidden_size}) for ${task}, exported by the bert-ko course library.`,
      { task },
    );
  }

  /** Embeddings and every encoder layer: the sequence output `[B, S, hidden]`. */
  encode(inputs: Record<string, string>): string {
    const embeddings = this.embeddings(inputs.input_ids, inputs.token_type_ids);
    const additiveMask = this.additiveAttentionMask(inputs.attention_mask);
    let hidden = embeddings;
    for (let i = 0; i < this.config.num_hidden_layers; i++) {
      hidden = this.encoderLayer(hidden, additiveMask, i);
    }
    return hidden;
  }

  private tensor(name: string, expectedRank: number): HfTensor {
    const tensor = this.weights.get(name);
    if (!tensor) {
      throw new CourseError(
        "ONNX_MISSING_WEIGHT",
        `Weight "${name}" is missing from the model`,
        "가중치 이름이 Hugging Face 이름(예: bert.encoder.layer.0...)과 같은지, 이 작업(task)에 맞는 헤드가 있는 모델인지 확인하세요.",
      );
    }
    if (tensor.shape.length !== expectedRank) {
      throw new CourseError(
        "ONNX_BAD_WEIGHT_SHAPE",
        `Weight "${name}" has shape [${tensor.shape}], expected rank ${expectedRank}`,
        "config.json과 가중치 파일이 같은 모델에서 나왔는지 확인하세요.",
      );
    }
    return tensor;
  }

  private weight(name: string, rank: number): string {
    const t = this.tensor(name, rank);
    return this.g.addWeight(name, t.data, t.shape);
  }

  /** y = x·Wᵀ + b with W stored transposed ([in, out]) so MatMul needs no Transpose. */
  linear(x: string, module: string): string {
    const w = this.tensor(`${module}.weight`, 2);
    const [outFeatures, inFeatures] = w.shape;
    const transposedName = this.g.addWeight(
      `${module}.weight.T`,
      transpose2d(w.data, outFeatures, inFeatures),
      [inFeatures, outFeatures],
    );
    const product = this.g.op("MatMul", [x, transposedName], module);
    return this.g.op(
      "Add",
      [product, this.weight(`${module}.bias`, 1)],
      module,
    );
  }

  private layerNorm(x: string, module: string): string {
    return this.g.op(
      "LayerNormalization",
      [x, this.weight(`${module}.weight`, 1), this.weight(`${module}.bias`, 1)],
      module,
      { axis: -1, epsilon: { float: this.eps } },
    );
  }

  /** 0.5·x·(1 + t): the shape both GELU forms share. */
  private halfTimesOnePlus(x: string, t: string, prefix: string): string {
    const g = this.g;
    const onePlus = g.op("Add", [t, g.addFloatScalar("const.one", 1)], prefix);
    const half = g.op("Mul", [x, g.addFloatScalar("const.half", 0.5)], prefix);
    return g.op("Mul", [half, onePlus], prefix);
  }

  private activation(x: string, prefix: string): string {
    const g = this.g;
    const act = this.config.hidden_act ?? "gelu";
    if (act === "gelu") {
      // Exact GELU: 0.5·x·(1 + erf(x/√2)), as torch.nn.functional.gelu.
      const scaled = g.op("Div", [
        x,
        g.addFloatScalar("const.sqrt2", Math.SQRT2),
      ], prefix);
      return this.halfTimesOnePlus(x, g.op("Erf", [scaled], prefix), prefix);
    }
    if (act === "relu") return g.op("Relu", [x], prefix);
    if (act === "gelu_new" || act === "gelu_pytorch_tanh") {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const cube = g.op("Mul", [x, g.op("Mul", [x, x], prefix)], prefix);
      const inner = g.op("Add", [
        x,
        g.op("Mul", [cube, g.addFloatScalar("const.gelu_c", 0.044715)], prefix),
      ], prefix);
      const tanh = g.op("Tanh", [
        g.op("Mul", [
          inner,
          g.addFloatScalar("const.sqrt_2_over_pi", Math.sqrt(2 / Math.PI)),
        ], prefix),
      ], prefix);
      return this.halfTimesOnePlus(x, tanh, prefix);
    }
    throw new CourseError(
      "ONNX_UNSUPPORTED_ACTIVATION",
      `hidden_act "${act}" is not supported by the ONNX exporter`,
      'config.json의 hidden_act를 "gelu", "gelu_new", "relu" 중 하나로 쓰는 모델만 내보낼 수 있습니다.',
    );
  }

  private embeddings(inputIds: string, tokenTypeIds: string): string {
    const g = this.g;
    const prefix = "bert.embeddings";
    const words = g.op("Gather", [
      this.weight(`${prefix}.word_embeddings.weight`, 2),
      inputIds,
    ], `${prefix}.words`);
    // Position ids are 0..S-1 for every row: slice the first S rows.
    const sequenceLength = g.op("Shape", [inputIds], `${prefix}.seq_len`, {
      start: 1,
      end: 2,
    });
    const positions = g.op("Slice", [
      this.weight(`${prefix}.position_embeddings.weight`, 2),
      g.addInt64Constant("const.zero_1d", [0]),
      sequenceLength,
      g.addInt64Constant("const.zero_1d", [0]),
    ], `${prefix}.positions`);
    const types = g.op("Gather", [
      this.weight(`${prefix}.token_type_embeddings.weight`, 2),
      tokenTypeIds,
    ], `${prefix}.types`);
    const sum = g.op("Add", [
      g.op("Add", [words, positions], prefix),
      types,
    ], prefix);
    return this.layerNorm(sum, `${prefix}.LayerNorm`);
  }

  /** [B, S] 0/1 mask -> [B, 1, 1, S] additive mask (0 or float32 min). */
  private additiveAttentionMask(attentionMask: string): string {
    const g = this.g;
    const prefix = "attention_mask";
    const asFloat = g.op("Cast", [attentionMask], prefix, {
      to: 1, /* FLOAT */
    });
    const inverted = g.op(
      "Sub",
      [g.addFloatScalar("const.one", 1), asFloat],
      prefix,
    );
    const additive = g.op("Mul", [
      inverted,
      g.addFloatScalar("const.float32_min", FLOAT32_MIN),
    ], prefix);
    return g.op("Unsqueeze", [
      additive,
      g.addInt64Constant("const.axes_1_2", [1, 2]),
    ], prefix);
  }

  private encoderLayer(x: string, mask: string, index: number): string {
    const g = this.g;
    const prefix = `bert.encoder.layer.${index}`;
    const heads = this.config.num_attention_heads;
    const headSize = this.config.hidden_size / heads;
    const splitShape = g.addInt64Constant("const.split_heads_shape", [
      0,
      0,
      heads,
      headSize,
    ]);

    const projectToHeads = (name: string, perm: number[]) =>
      g.op(
        "Transpose",
        [
          g.op("Reshape", [
            this.linear(x, `${prefix}.attention.self.${name}`),
            splitShape,
          ], `${prefix}.${name}`),
        ],
        `${prefix}.${name}`,
        { perm },
      );

    const query = projectToHeads("query", [0, 2, 1, 3]); // [B, h, S, d]
    const keyT = projectToHeads("key", [0, 2, 3, 1]); // [B, h, d, S]
    const value = projectToHeads("value", [0, 2, 1, 3]); // [B, h, S, d]

    const scores = g.op("Div", [
      g.op("MatMul", [query, keyT], `${prefix}.scores`),
      g.addFloatScalar(`const.sqrt_head_size_${headSize}`, Math.sqrt(headSize)),
    ], `${prefix}.scores`);
    const probs = g.op(
      "Softmax",
      [
        g.op("Add", [scores, mask], `${prefix}.scores`),
      ],
      `${prefix}.probs`,
      { axis: -1 },
    );
    const context = g.op("Reshape", [
      g.op(
        "Transpose",
        [
          g.op("MatMul", [probs, value], `${prefix}.context`),
        ],
        `${prefix}.context`,
        { perm: [0, 2, 1, 3] },
      ),
      g.addInt64Constant("const.merge_heads_shape", [
        0,
        0,
        this.config.hidden_size,
      ]),
    ], `${prefix}.context`);

    const attentionOutput = this.layerNorm(
      g.op("Add", [
        this.linear(context, `${prefix}.attention.output.dense`),
        x,
      ], `${prefix}.attention.residual`),
      `${prefix}.attention.output.LayerNorm`,
    );
    const intermediate = this.activation(
      this.linear(attentionOutput, `${prefix}.intermediate.dense`),
      `${prefix}.intermediate.act`,
    );
    return this.layerNorm(
      g.op("Add", [
        this.linear(intermediate, `${prefix}.output.dense`),
        attentionOutput,
      ], `${prefix}.output.residual`),
      `${prefix}.output.LayerNorm`,
    );
  }

  pooler(sequenceOutput: string): string {
    const first = this.g.op(
      "Gather",
      [
        sequenceOutput,
        this.g.addInt64Constant("const.zero_scalar", [0], []),
      ],
      "bert.pooler.first_token",
      { axis: 1 },
    );
    return this.g.op(
      "Tanh",
      [this.linear(first, "bert.pooler.dense")],
      "bert.pooler",
    );
  }

  maskedLmHead(sequenceOutput: string): string {
    const g = this.g;
    const prefix = "cls.predictions";
    const transformed = this.layerNorm(
      this.activation(
        this.linear(sequenceOutput, `${prefix}.transform.dense`),
        `${prefix}.transform.act`,
      ),
      `${prefix}.transform.LayerNorm`,
    );
    // The decoder is tied to the word embeddings (HF omits it from the file).
    // A Transpose of the shared initializer keeps one copy in the file; ORT
    // folds it into a constant when the session loads.
    const decoderName = this.weights.has(`${prefix}.decoder.weight`)
      ? `${prefix}.decoder.weight`
      : "bert.embeddings.word_embeddings.weight";
    const decoderT = g.op(
      "Transpose",
      [this.weight(decoderName, 2)],
      `${prefix}.decoder`,
      {
        perm: [1, 0],
      },
    );
    const biasName = this.weights.has(`${prefix}.decoder.bias`)
      ? `${prefix}.decoder.bias`
      : `${prefix}.bias`;
    return g.op("Add", [
      g.op("MatMul", [transformed, decoderT], `${prefix}.decoder`),
      this.weight(biasName, 1),
    ], `${prefix}.decoder`);
  }

  outFeatures(module: string): number {
    return this.tensor(`${module}.weight`, 2).shape[0];
  }
}

/** Dynamic axes by name, the other axes sized by `fixedDims`, in order. */
function outputDims(axes: DynamicAxes, fixedDims: number[]): Dim[] {
  const rank = Object.keys(axes).length + fixedDims.length;
  const fixed = [...fixedDims];
  return Array.from({ length: rank }, (_, i) => axes[i] ?? fixed.shift()!);
}
