/**
 * What every BERT class shares (HF `BertPreTrainedModel`): named parameters, freezing by group,
 * parameter counts, init, `fromPretrained` / `savePretrained`, `dispose`.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { BertConfig, type BertConfigInit } from "./config.ts";
import {
  alignNames,
  assignFromCheckpoint,
  type LoadingInfo,
  readCheckpointDir,
  writeCheckpoint,
} from "./checkpoint.ts";
import {
  initializeParameters,
  type ParameterInfo,
  ParameterList,
} from "./parameters.ts";
import { resolveWeightsDir } from "./resolve.ts";
import { newWeightsNotice, unusedWeightsNotice } from "./loading_report.ts";
import { CourseError } from "../runtime/errors.ts";
import { refuseQueuedAfterInterrupt } from "../runtime/kernel.ts";

export interface ModelOptions {
  /** Seed for weight init and dropout (default 42). */
  seed?: number;
  /** false: skip random init (weights are about to be loaded). */
  initialize?: boolean;
}

export interface FromPretrainedOptions extends BertConfigInit, ModelOptions {
  /** Re-initialize tensors whose shapes differ (e.g. a new num_labels) instead of failing. */
  ignore_mismatched_sizes?: boolean;
  /** Print HF-style notices about newly initialized / unused weights (default true). */
  verbose?: boolean;
}

export interface ParameterGroup {
  name: string;
  variables: tf.Variable[];
}

export interface ParameterCount {
  total: number;
  trainable: number;
  byGroup: Record<string, number>;
}

/** Group of a parameter by its name without the `bert.` prefix. */
function groupOf(name: string): string {
  const bare = name.startsWith("bert.") ? name.slice(5) : name;
  if (bare.startsWith("embeddings.")) return "embeddings";
  const layer = bare.match(/^encoder\.layer\.(\d+)\./);
  if (layer) return `encoder.layer.${layer[1]}`;
  if (bare.startsWith("pooler.")) return "pooler";
  return "head";
}

export abstract class BertPreTrainedModel {
  readonly params = new ParameterList();
  /** Set by `fromPretrained`: what was missing, unused or re-initialized. */
  loadingInfo: LoadingInfo | null = null;
  /** "bert." for heads (their encoder lives under `bert`), "" for the bare BertModel. */
  abstract readonly basePrefix: string;

  constructor(readonly config: BertConfig) {}

  /** Call at the end of a subclass constructor, once every parameter is registered. */
  protected finishInit(options: ModelOptions): void {
    if (options.initialize ?? true) {
      this.initWeights(undefined, options.seed ?? 42);
    }
  }

  /** HF init (normal(0, initializer_range), zero biases, LayerNorm 1/0), seeded. */
  initWeights(names?: string[], seed = 42): void {
    const wanted = names ? new Set(names) : null;
    const items = this.params.items.filter((p) =>
      !wanted || wanted.has(p.name)
    );
    initializeParameters(items, this.config.initializer_range, seed);
  }

  /** Exact Hugging Face names -> variables. Linear weights are [in, out] here, [out, in] in HF. */
  namedParameters(): Map<string, tf.Variable> {
    return new Map(this.params.items.map((p) => [p.name, p.variable]));
  }

  parameterInfo(): ParameterInfo[] {
    return this.params.items;
  }

  /** Groups for freezing: `embeddings`, `encoder.layer.0` ... `encoder.layer.{N-1}`, `pooler`, `head`. */
  parameterGroups(): ParameterGroup[] {
    const groups = new Map<string, tf.Variable[]>();
    for (const p of this.params.items) {
      const name = groupOf(p.name);
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name)!.push(p.variable);
    }
    return [...groups].map(([name, variables]) => ({ name, variables }));
  }

  setTrainable(
    groupNames: string[] | string | "all",
    trainable: boolean,
  ): void {
    const groups = this.parameterGroups();
    const wanted = groupNames === "all"
      ? groups.map((g) => g.name)
      : Array.isArray(groupNames)
      ? groupNames
      : [groupNames];
    for (const name of wanted) {
      const group = groups.find((g) => g.name === name);
      if (!group) {
        throw new CourseError(
          "unknown_parameter_group",
          `no parameter group "${name}" (groups: ${
            groups.map((g) => g.name).join(", ")
          })`,
          '그룹 이름은 model.parameterGroups()로 확인하세요. 예: "embeddings", "encoder.layer.0", "pooler", "head", 또는 "all".',
        );
      }
      for (const v of group.variables) v.trainable = trainable;
    }
  }

  trainableVariables(): tf.Variable[] {
    return this.params.items.filter((p) => p.variable.trainable).map((p) =>
      p.variable
    );
  }

  countParameters(): ParameterCount {
    const byGroup: Record<string, number> = {};
    let total = 0;
    let trainable = 0;
    for (const p of this.params.items) {
      const n = p.variable.size;
      total += n;
      if (p.variable.trainable) trainable += n;
      const g = groupOf(p.name);
      byGroup[g] = (byGroup[g] ?? 0) + n;
    }
    return { total, trainable, byGroup };
  }

  /**
   * Loads tensors from a folder (`model.safetensors` or shards) into this model; parameters the
   * checkpoint lacks are freshly initialized. Returns the HF-style loading report.
   */
  async loadPretrainedWeights(
    dir: string,
    { ignore_mismatched_sizes = false, verbose = true, seed = 42 } = {},
  ): Promise<LoadingInfo> {
    const stored = alignNames(await readCheckpointDir(dir), this.basePrefix);
    const info = assignFromCheckpoint(this.params.items, stored, {
      ignoreMismatchedSizes: ignore_mismatched_sizes,
      source: dir,
    });
    const toInit = [
      ...info.missing_keys,
      ...info.mismatched_keys.map((m) => m.key),
    ];
    if (toInit.length) this.initWeights(toInit, seed);
    if (verbose) this.reportLoading(info, dir);
    this.loadingInfo = info;
    return info;
  }

  private reportLoading(info: LoadingInfo, dir: string): void {
    const name = this.constructor.name;
    // An expected notice (only head weights new or unused) is information: stdout, which
    // Jupyter shows plainly; only a real problem (⚠️) goes to stderr, which it shows in red.
    const say = (notice: string) =>
      notice.includes("⚠️") ? console.warn(notice) : console.info(notice);
    const newly = newWeightsNotice(info, name, dir);
    if (newly) say(newly);
    const unused = unusedWeightsNotice(
      info,
      name,
      dir,
      this.config.num_hidden_layers,
    );
    if (unused) say(unused);
  }

  /** Writes `config.json` (architectures set) and `model.safetensors`, loadable by HF Python. */
  async savePretrained(
    dir: string,
    { dtype = "F32" }: { dtype?: "F32" | "F16" } = {},
  ): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    const config = this.config.clone({
      architectures: [this.constructor.name],
    });
    await config.savePretrained(dir);
    await writeCheckpoint(`${dir}/model.safetensors`, this.params.items, dtype);
  }

  /**
   * `X.fromPretrained("path/or/hub-id", { num_labels: 3, ... })`: config from `config.json`
   * (with overrides), weights from safetensors; a new head is initialized and reported.
   */
  static async fromPretrained<T extends BertPreTrainedModel>(
    this: new (config: BertConfig, options?: ModelOptions) => T,
    dirOrHubId: string,
    options: FromPretrainedOptions = {},
  ): Promise<T> {
    refuseQueuedAfterInterrupt(`${this.name}.fromPretrained`);
    const {
      ignore_mismatched_sizes,
      verbose,
      seed,
      initialize: _initialize,
      ...configOverrides
    } = options;
    const dir = await resolveWeightsDir(dirOrHubId);
    const config = await BertConfig.fromFile(
      `${dir}/config.json`,
      configOverrides,
    );
    const model = new this(config, { seed, initialize: false });
    try {
      await model.loadPretrainedWeights(dir, {
        ignore_mismatched_sizes,
        verbose,
        seed,
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  dispose(): void {
    for (const p of this.params.items) {
      if (!p.variable.isDisposed) p.variable.dispose();
    }
  }
}
