/**
 * BertConfig: the Hugging Face `config.json`, field names kept in snake_case so that what learners
 * read here is what they will read in Python. Unknown fields survive a load/save round trip.
 */
import { CourseError } from "../runtime/errors.ts";

export type HiddenAct = "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu";
export type ProblemType =
  | "regression"
  | "single_label_classification"
  | "multi_label_classification";

const SUPPORTED_ACTIVATIONS: readonly string[] = [
  "gelu",
  "gelu_new",
  "gelu_pytorch_tanh",
  "relu",
];
const PROBLEM_TYPES: readonly string[] = [
  "regression",
  "single_label_classification",
  "multi_label_classification",
];

/** Defaults of `transformers.BertConfig()` (bert-base-uncased). */
const DEFAULTS = {
  model_type: "bert",
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu" as HiddenAct,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  classifier_dropout: null as number | null,
  tie_word_embeddings: true,
};

export type BertConfigInit = Partial<typeof DEFAULTS> & {
  num_labels?: number;
  id2label?: Record<string | number, string>;
  label2id?: Record<string, number>;
  problem_type?: ProblemType | null;
  architectures?: string[];
  [extra: string]: unknown;
};

export class BertConfig {
  model_type = DEFAULTS.model_type;
  vocab_size = DEFAULTS.vocab_size;
  hidden_size = DEFAULTS.hidden_size;
  num_hidden_layers = DEFAULTS.num_hidden_layers;
  num_attention_heads = DEFAULTS.num_attention_heads;
  intermediate_size = DEFAULTS.intermediate_size;
  hidden_act: HiddenAct = DEFAULTS.hidden_act;
  hidden_dropout_prob = DEFAULTS.hidden_dropout_prob;
  attention_probs_dropout_prob = DEFAULTS.attention_probs_dropout_prob;
  max_position_embeddings = DEFAULTS.max_position_embeddings;
  type_vocab_size = DEFAULTS.type_vocab_size;
  initializer_range = DEFAULTS.initializer_range;
  layer_norm_eps = DEFAULTS.layer_norm_eps;
  pad_token_id = DEFAULTS.pad_token_id;
  classifier_dropout: number | null = DEFAULTS.classifier_dropout;
  tie_word_embeddings = DEFAULTS.tie_word_embeddings;
  problem_type: ProblemType | null = null;
  architectures: string[] | null = null;
  /** Label names by class index (numbers in use; JSON keys are strings as in HF). */
  id2label: Record<number, string> = { 0: "LABEL_0", 1: "LABEL_1" };
  label2id: Record<string, number> = { LABEL_0: 0, LABEL_1: 1 };
  /** Fields this library does not use (e.g. `transformers_version`), kept for the round trip. */
  readonly extra: Record<string, unknown> = {};

  constructor(init: BertConfigInit = {}) {
    const { num_labels, id2label, label2id, ...rest } = init;
    for (const [key, value] of Object.entries(rest)) {
      if (value === undefined) continue;
      if (
        key in DEFAULTS || key === "problem_type" || key === "architectures"
      ) {
        (this as Record<string, unknown>)[key] = value;
      } else {
        this.extra[key] = value;
      }
    }
    if (id2label) {
      this.id2label = Object.fromEntries(
        Object.entries(id2label).map(([k, v]) => [Number(k), String(v)]),
      );
      this.label2id = label2id ? { ...label2id } : Object.fromEntries(
        Object.entries(this.id2label).map(([k, v]) => [v, Number(k)]),
      );
    } else if (label2id) {
      this.label2id = { ...label2id };
      this.id2label = Object.fromEntries(
        Object.entries(label2id).map(([k, v]) => [v, k]),
      );
    }
    if (num_labels !== undefined && num_labels !== this.num_labels) {
      this.num_labels = num_labels;
    }
    this.validate();
  }

  /** Number of classes, derived from `id2label` exactly as Hugging Face does. */
  get num_labels(): number {
    return Object.keys(this.id2label).length;
  }

  set num_labels(n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new CourseError(
        "config_num_labels",
        `num_labels must be a positive integer, got ${n}`,
        "num_labels에는 분류할 클래스 개수(1 이상의 정수)를 넣으세요. 회귀라면 1입니다.",
      );
    }
    this.id2label = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [i, `LABEL_${i}`]),
    );
    this.label2id = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`LABEL_${i}`, i]),
    );
  }

  get head_size(): number {
    return this.hidden_size / this.num_attention_heads;
  }

  validate(): void {
    const positiveInts = [
      "vocab_size",
      "hidden_size",
      "num_hidden_layers",
      "num_attention_heads",
      "intermediate_size",
      "max_position_embeddings",
      "type_vocab_size",
    ] as const;
    for (const key of positiveInts) {
      const value = this[key];
      if (!Number.isInteger(value) || value < 1) {
        throw new CourseError(
          "config_invalid",
          `BertConfig.${key} must be a positive integer, got ${
            JSON.stringify(value)
          }`,
          `config.json의 ${key} 값을 1 이상의 정수로 고치세요.`,
        );
      }
    }
    if (this.hidden_size % this.num_attention_heads !== 0) {
      throw new CourseError(
        "config_heads",
        `hidden_size (${this.hidden_size}) is not a multiple of num_attention_heads (${this.num_attention_heads})`,
        "hidden_size는 num_attention_heads로 나누어떨어져야 합니다 (예: 768과 12, 256과 4).",
      );
    }
    if (!SUPPORTED_ACTIVATIONS.includes(this.hidden_act)) {
      throw new CourseError(
        "config_activation",
        `hidden_act "${this.hidden_act}" is not supported (supported: ${
          SUPPORTED_ACTIVATIONS.join(", ")
        })`,
        'hidden_act를 "gelu", "gelu_new", "gelu_pytorch_tanh", "relu" 중 하나로 바꾸세요.',
      );
    }
    for (
      const key of [
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
      ] as const
    ) {
      const p = this[key];
      if (typeof p !== "number" || !(p >= 0 && p < 1)) {
        throw new CourseError(
          "config_dropout",
          `${key} must be in [0, 1), got ${p}`,
          `${key}는 0 이상 1 미만의 확률이어야 합니다 (보통 0.1).`,
        );
      }
    }
    if (
      this.problem_type !== null && !PROBLEM_TYPES.includes(this.problem_type)
    ) {
      throw new CourseError(
        "config_problem_type",
        `problem_type "${this.problem_type}" is unknown`,
        `problem_type은 ${
          PROBLEM_TYPES.join(", ")
        } 중 하나이거나 null이어야 합니다.`,
      );
    }
  }

  /** JSON object in the field order of HF `to_json_string` (sorted keys). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.extra };
    for (const key of Object.keys(DEFAULTS)) {
      out[key] = (this as Record<string, unknown>)[key];
    }
    if (this.architectures) out.architectures = [...this.architectures];
    if (this.problem_type) out.problem_type = this.problem_type;
    if (!this.hasDefaultLabels()) {
      out.id2label = Object.fromEntries(
        Object.entries(this.id2label).map(([k, v]) => [String(k), v]),
      );
      out.label2id = { ...this.label2id };
    }
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(out).sort()) sorted[key] = out[key];
    return sorted;
  }

  /** HF leaves the default two `LABEL_i` names out of config.json; so do we. */
  private hasDefaultLabels(): boolean {
    const labels = Object.entries(this.id2label);
    return labels.length === 2 && labels.every(([k, v]) => v === `LABEL_${k}`);
  }

  toJSONString(): string {
    return JSON.stringify(this.toJSON(), null, 2) + "\n";
  }

  clone(overrides: BertConfigInit = {}): BertConfig {
    return new BertConfig({ ...this.toJSON(), ...overrides } as BertConfigInit);
  }

  static fromJSON(
    json: Record<string, unknown>,
    overrides: BertConfigInit = {},
  ): BertConfig {
    const merged = { ...json, ...overrides } as BertConfigInit;
    // `num_labels` as an override wins over a checkpoint's id2label (HF does the same).
    if (
      overrides.num_labels !== undefined && overrides.id2label === undefined
    ) {
      delete merged.id2label;
      delete merged.label2id;
    }
    if (json.model_type !== undefined && json.model_type !== "bert") {
      throw new CourseError(
        "config_model_type",
        `config.json has model_type "${json.model_type}", this library builds only "bert"`,
        "BERT 계열 체크포인트(model_type이 bert)를 사용하세요.",
      );
    }
    return new BertConfig(merged);
  }

  static async fromFile(
    path: string,
    overrides: BertConfigInit = {},
  ): Promise<BertConfig> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (cause) {
      throw new CourseError(
        "config_missing",
        `cannot read ${path}`,
        "모델 폴더에 config.json이 있는지 확인하세요.",
        { cause },
      );
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new CourseError(
        "config_json",
        `${path} is not valid JSON`,
        "config.json 파일이 손상되었습니다. 다시 내려받거나 savePretrained로 다시 저장하세요.",
        { cause },
      );
    }
    return BertConfig.fromJSON(json, overrides);
  }

  /** Reads `<dir>/config.json` (a hub id goes through lib/hub). */
  static async fromPretrained(
    dirOrHubId: string,
    overrides: BertConfigInit = {},
  ): Promise<BertConfig> {
    const { resolvePretrainedDir } = await import("./resolve.ts");
    const dir = await resolvePretrainedDir(dirOrHubId, ["config.json"]);
    return BertConfig.fromFile(`${dir}/config.json`, overrides);
  }

  async savePretrained(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/config.json`, this.toJSONString());
  }
}
