/**
 * The one table of BERT heads: for each Hugging Face architecture (the name in
 * `config.json` `architectures`), its class, the tasks it serves and their
 * aliases, its outputs, and its ONNX export signature. The ONNX exporter
 * (onnx/bert_graph.ts, onnx/export.ts) and `pipeline()` (lib/tasks) both read
 * it. It carries no pipeline code: lib/tasks maps its task implementations by
 * the task names here (models never import tasks).
 *
 * Adding a head = its class (heads.ts) + a row here + its graph builder
 * (`HEAD_GRAPHS` in onnx/bert_graph.ts, keyed by the row's architecture; the
 * type checker asks for it). A new pipeline task also needs its folder in
 * lib/tasks (`pipeline.ts` exporting `TASKS`, spread into `TASK_RUNNERS`).
 */
import { BertModel } from "./bert.ts";
import {
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForPreTraining,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
} from "./heads.ts";
import type {
  BertPreTrainedModel,
  FromPretrainedOptions,
} from "./pretrained.ts";

/** Axis index -> symbolic size, as `torch.onnx.export(dynamic_axes=...)` and optimum write them. */
export type DynamicAxes = Readonly<Record<number, string>>;

/** A model class of lib/models (what `pipeline()` loads a folder with). */
export interface HeadClass {
  readonly name: string;
  fromPretrained(
    dirOrHubId: string,
    options?: FromPretrainedOptions,
  ): Promise<BertPreTrainedModel>;
}

export interface HeadRow {
  /** Hugging Face class name, as in `config.json` `architectures` (also our class name). */
  readonly architecture: string;
  readonly modelClass: HeadClass;
  /**
   * Outputs of `forward` (Hugging Face names, loss and hidden states aside),
   * each with its dynamic axes; an exported graph has exactly these outputs,
   * in this order (axes not named are fixed by the weights).
   */
  readonly outputs: Readonly<Record<string, DynamicAxes>>;
  /** Outputs present only when the weights have them (BertModel's pooler). */
  readonly optionalOutputs?: readonly string[];
  /** A weight only this head has: without it a checkpoint has no such head. */
  readonly headWeight?: string;
  /** The `pipeline()` tasks it serves (canonical names). */
  readonly tasks: readonly string[];
  /** Other names of its tasks (alias -> one of its tasks or its export task). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Its own ONNX graph: the export task (optimum's name) and the graph inputs (int64). */
  readonly onnx?: {
    readonly task: string;
    readonly inputs: Readonly<Record<string, DynamicAxes>>;
  };
  /** Exported, but no pipeline task reads it (BertModel: feature extraction). */
  readonly exportOnly?: boolean;
  /**
   * Heads whose weights this checkpoint also holds: it is exported as the first
   * and runs the pipelines of all (a pretraining checkpoint: MLM + NSP).
   */
  readonly carries?: readonly string[];
}

const BATCH = { 0: "batch_size" } as const;
const TOKENS = { 0: "batch_size", 1: "sequence_length" } as const;
/** What optimum exports and transformers.js feeds a BERT graph. */
const TEXT_INPUTS = {
  input_ids: TOKENS,
  attention_mask: TOKENS,
  token_type_ids: TOKENS,
} as const;

/** One row per head. The order of rows with `onnx` is the order of `EXPORT_TASKS`. */
export const HEAD_TABLE = [
  {
    architecture: "BertModel",
    modelClass: BertModel,
    outputs: { last_hidden_state: TOKENS, pooler_output: BATCH },
    optionalOutputs: ["pooler_output"],
    tasks: [],
    onnx: { task: "feature-extraction", inputs: TEXT_INPUTS },
    exportOnly: true,
  },
  {
    architecture: "BertForSequenceClassification",
    modelClass: BertForSequenceClassification,
    outputs: { logits: BATCH },
    headWeight: "classifier.weight",
    tasks: ["text-classification", "sentence-similarity"],
    aliases: {
      "sentiment-analysis": "text-classification",
      "sequence-classification": "text-classification",
    },
    onnx: { task: "text-classification", inputs: TEXT_INPUTS },
  },
  {
    architecture: "BertForTokenClassification",
    modelClass: BertForTokenClassification,
    outputs: { logits: TOKENS },
    headWeight: "classifier.weight",
    tasks: ["token-classification"],
    aliases: { "ner": "token-classification" },
    onnx: { task: "token-classification", inputs: TEXT_INPUTS },
  },
  {
    architecture: "BertForMaskedLM",
    modelClass: BertForMaskedLM,
    outputs: { logits: TOKENS },
    headWeight: "cls.predictions.transform.dense.weight",
    tasks: ["fill-mask"],
    onnx: { task: "fill-mask", inputs: TEXT_INPUTS },
  },
  {
    architecture: "BertForQuestionAnswering",
    modelClass: BertForQuestionAnswering,
    outputs: { start_logits: TOKENS, end_logits: TOKENS },
    headWeight: "qa_outputs.weight",
    tasks: ["question-answering"],
    onnx: { task: "question-answering", inputs: TEXT_INPUTS },
  },
  {
    architecture: "BertForNextSentencePrediction",
    modelClass: BertForNextSentencePrediction,
    outputs: { logits: BATCH },
    headWeight: "cls.seq_relationship.weight",
    tasks: ["next-sentence"],
    onnx: { task: "next-sentence-prediction", inputs: TEXT_INPUTS },
  },
  {
    architecture: "BertForPreTraining",
    modelClass: BertForPreTraining,
    outputs: { prediction_logits: TOKENS, seq_relationship_logits: BATCH },
    tasks: [],
    carries: ["BertForMaskedLM", "BertForNextSentencePrediction"],
  },
] as const satisfies readonly HeadRow[];

type Row = (typeof HEAD_TABLE)[number];
type ExportedRow = Extract<Row, { onnx: unknown }>;

/** The tasks `exportOnnx` builds a graph for (optimum's names). */
export type ExportTask = ExportedRow["onnx"]["task"];
/** The architectures with an ONNX graph (each has a builder in onnx/bert_graph.ts). */
export type ExportedArchitecture = ExportedRow["architecture"];
/** The `pipeline()` tasks (canonical names). */
export type HeadTask = Row["tasks"][number];

type AliasesOf<R> = R extends { aliases: infer A } ? A : never;
type KeysOf<U> = U extends unknown ? keyof U : never;
type TargetOf<U, K> = U extends { readonly [P in K & PropertyKey]: infer T } ? T
  : never;
/** Other names of tasks (`"sentiment-analysis"`, `"ner"`, ...). */
export type TaskAlias = KeysOf<AliasesOf<Row>> & string;
export type AliasTarget<A extends TaskAlias> = TargetOf<AliasesOf<Row>, A>;

/** Every alias of every row, alias -> task (the one alias table). */
export const TASK_ALIASES = Object.fromEntries(
  HEAD_TABLE.flatMap((row: HeadRow) => Object.entries(row.aliases ?? {})),
) as { readonly [A in TaskAlias]: AliasTarget<A> };

/** Export tasks in table order. */
export const EXPORT_TASKS: readonly ExportTask[] = HEAD_TABLE.flatMap((
  row: HeadRow,
) => row.onnx ? [row.onnx.task as ExportTask] : []);

/** Pipeline tasks in table order. */
export const HEAD_TASKS: readonly HeadTask[] = HEAD_TABLE.flatMap((
  row: HeadRow,
) => row.tasks as readonly HeadTask[]);

/** An alias's task, or the name itself. */
export function canonicalTaskName(name: string): string {
  return Object.hasOwn(TASK_ALIASES, name)
    ? TASK_ALIASES[name as TaskAlias]
    : name;
}

export function headByArchitecture(architecture: string): HeadRow | undefined {
  return (HEAD_TABLE as readonly HeadRow[]).find((row) =>
    row.architecture === architecture
  );
}

/** The row whose ONNX graph a task name (or alias) asks for. */
export function headForExportTask(task: string): HeadRow | undefined {
  const name = canonicalTaskName(task);
  return (HEAD_TABLE as readonly HeadRow[]).find((row) =>
    row.onnx?.task === name
  );
}

/** The row that serves a `pipeline()` task name (or alias). */
export function headForTask(task: string): HeadRow | undefined {
  const name = canonicalTaskName(task);
  return (HEAD_TABLE as readonly HeadRow[]).find((row) =>
    row.tasks.includes(name)
  );
}

/** The row exported for a checkpoint of `architecture`: its own, or the first head it carries. */
export function exportedHead(architecture: string): HeadRow | undefined {
  const row = headByArchitecture(architecture);
  if (row?.onnx) return row;
  const carried = row?.carries?.[0];
  return carried === undefined ? undefined : headByArchitecture(carried);
}

/** Whether a checkpoint saved as `architecture` has the weights of `head`. */
export function checkpointHasHead(
  architecture: string,
  head: HeadRow,
): boolean {
  return architecture === head.architecture ||
    (headByArchitecture(architecture)?.carries?.includes(head.architecture) ??
      false);
}
