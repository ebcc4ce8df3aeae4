/**
 * Translates the course's exported ONNX graph (onnx/bert_graph.ts, the one home of BERT's graph)
 * into a frozen TensorFlow graph that TensorFlow's own session runs in one call: no JavaScript
 * between ops, and TensorFlow's graph optimizer fuses what it recognizes (MatMul + BiasAdd + GELU)
 * into oneDNN kernels.
 *
 * Two choices make the dense fusions fire:
 * - Linear layers run on 2-D [tokens, features] tensors, and a value stays 2-D ("flat") through the
 *   elementwise ops, LayerNorm and softmax that follow, until something needs its real shape. The
 *   exported graph is 3-D; a reshape between MatMul and BiasAdd would hide the pattern.
 * - Scalar constants go first in Add and Mul, as in GELU's `0.5 * x * (1 + erf(x / √2))`.
 * LayerNorm is written as oneDNN's `_MklLayerNorm` kernel with the model's epsilon, or, where that
 * kernel is missing (`layerNorm: "ops"`), as nine ops shaped so that TensorFlow does *not* fuse
 * them (its fusion drops the epsilon; see layerNorm below).
 * Where the course's fused kernels are loaded (lib/runtime/native_kernels.ts), `attention:
 * "course"` makes each self-attention block one `CourseAttention` op reading the fused QKV
 * projection, and `layerNorm: "course"` makes each residual sum and LayerNorm one
 * `CourseAddLayerNorm` (patterns.ts finds both).
 *
 * Only the operators the course's exporter writes are translated; anything else is refused with a
 * clear error rather than translated approximately. Shapes are tracked symbolically (the named
 * dynamic axes of the graph inputs), so every reshape and slice is checked while translating.
 * Graph inputs become int32 placeholders (tfjs' integer type) where ONNX has int64.
 */
import { CourseError } from "../../runtime/errors.ts";
import { onnx, type onnxTypes } from "../onnx/proto.ts";
import {
  type AttentionPattern,
  findAttentionPatterns,
  findResidualLayerNorms,
  type GraphIndex,
  indexGraph,
  type ResidualLayerNorm,
} from "./patterns.ts";
import {
  encodeSavedModel,
  type TfAttr,
  type TfDtype,
  type TfNodeDef,
  type TfSignatureTensor,
} from "./proto.ts";

/** A dimension: a fixed size or a named dynamic axis of the graph inputs. */
type Dim = number | string;

interface Value {
  dtype: TfDtype;
  shape: Dim[];
  /** TF tensor holding the value in its own shape. */
  ref?: string;
  /** TF tensor holding the same values as [product of leading dims, last dim]. */
  flat?: string;
  /** A float initializer, emitted as a Const when first used. */
  floatData?: Float32Array;
  /** Integer values known while translating (int initializers, Shape outputs). */
  ints?: Dim[];
}

/** A linear layer in the ONNX graph: `output = MatMul(input, weight) + bias`. */
interface SiblingLinear {
  product: string;
  output: string;
  weight: Value;
  bias: Value;
}

interface SiblingLinears {
  input: string;
  linears: SiblingLinear[];
}

export interface TfGraph {
  /** `saved_model.pb` bytes (tag "serve", signature "serving_default"). */
  savedModel: Uint8Array;
  /** Graph input names, fed as "name:0" (int32). */
  inputs: string[];
  /** Graph output names, fetched as "name:0" (float32). */
  outputs: string[];
}

export const SAVED_MODEL_TAG = "serve";

export interface TfGraphOptions {
  /**
   * "fused" (default): each LayerNorm is one `_MklLayerNorm` op, TensorFlow's oneDNN kernel, on
   * x86 builds of TensorFlow (the CPU and CUDA wheels alike). "ops": Mean, SquaredDifference,
   * Rsqrt and friends, which every TensorFlow build has. "course": the course's kernels,
   * `CourseAddLayerNorm` with the residual sum before it, else `CourseLayerNorm`.
   */
  layerNorm?: "fused" | "ops" | "course";
  /** The fused kernel's op type (tests name a missing one to see the engine fall back). */
  layerNormKernel?: string;
  /**
   * "ops" (default): split, transposes, batched products and softmax, as exported. "course":
   * each self-attention block as the course's `CourseAttention` kernel.
   */
  attention?: "ops" | "course";
}

export function tfGraphFromOnnx(
  onnxBytes: Uint8Array,
  options: TfGraphOptions = {},
): TfGraph {
  const model = onnx.ModelProto.decode(onnxBytes);
  return new Translator(model.graph!, {
    layerNorm: options.layerNorm ?? "fused",
    layerNormKernel: options.layerNormKernel ?? "_MklLayerNorm",
    attention: options.attention ?? "ops",
  }).translate();
}

function unsupported(what: string): CourseError {
  return new CourseError(
    "TF_GRAPH_UNSUPPORTED",
    `cannot translate the ONNX graph to TensorFlow: ${what}`,
    '이 모델은 TensorFlow 그래프 엔진으로 실행할 수 없습니다. pipeline(..., { engine: "onnx" }) 또는 engine: "tfjs"로 실행하세요.',
  );
}

const ONNX_FLOAT = onnx.TensorProto.DataType.FLOAT;
const ONNX_INT64 = onnx.TensorProto.DataType.INT64;
const ONNX_INT32 = onnx.TensorProto.DataType.INT32;

function tensorData(t: onnxTypes.ITensorProto): Uint8Array {
  const raw = t.rawData ?? new Uint8Array();
  return new Uint8Array(raw); // an aligned copy (a Buffer's slice() would be a view)
}

/** protobufjs hands int64 fields over as numbers or as Long objects. */
function toNumber(value: unknown): number {
  if (typeof value === "object" && value !== null && "toNumber" in value) {
    return (value as { toNumber(): number }).toNumber();
  }
  return Number(value);
}

function sameDims(a: Dim[], b: Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** numpy broadcasting of symbolic shapes. */
function broadcast(a: Dim[], b: Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else throw unsupported(`shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw unsupported(`axis ${axis} for rank ${rank}`);
  return a;
}

function numberAttr(
  node: onnxTypes.INodeProto,
  name: string,
  fallback?: number,
): number {
  const attr = node.attribute?.find((a) => a.name === name);
  if (!attr) {
    if (fallback === undefined) {
      throw unsupported(`${node.opType} without ${name}`);
    }
    return fallback;
  }
  if (attr.type === onnx.AttributeProto.AttributeType.FLOAT) return attr.f!;
  return toNumber(attr.i);
}

function intsAttr(
  node: onnxTypes.INodeProto,
  name: string,
): number[] | undefined {
  const attr = node.attribute?.find((a) => a.name === name);
  return attr?.ints?.map(toNumber);
}

const COMMUTATIVE = new Set(["AddV2", "Mul"]);
const BINARY: Record<string, string> = {
  Add: "AddV2",
  Sub: "Sub",
  Mul: "Mul",
  Div: "RealDiv",
};
const UNARY: Record<string, string> = {
  Erf: "Erf",
  Tanh: "Tanh",
  Relu: "Relu",
};

class Translator {
  private readonly nodes: TfNodeDef[] = [];
  private readonly values = new Map<string, Value>();
  private readonly cache = new Map<string, string>();
  /** Where each named input axis can be read: graph input name and axis. */
  private readonly dimSources = new Map<string, [string, number]>();
  private counter = 0;
  /** Linear layers that read the same input (attention's query, key, value), by MatMul output. */
  private readonly siblings = new Map<string, SiblingLinears>();
  /** Outputs of ONNX nodes already produced by a merged projection or a fused kernel. */
  private readonly done = new Set<string>();
  /** Attention blocks fused into `CourseAttention`, by their QKV projection and by their output. */
  private readonly attentionOf = new Map<SiblingLinears, AttentionPattern>();
  private readonly attentionAt = new Map<string, AttentionPattern>();
  /** The fused QKV projection ([tokens, 3·hidden]) each fused block reads, and the block's shape. */
  private readonly qkvOf = new Map<
    AttentionPattern,
    { qkv: string; shape: Dim[] }
  >();
  /** Residual sums fused into their LayerNorm, by the LayerNorm's output. */
  private residuals = new Map<string, ResidualLayerNorm>();

  constructor(
    private readonly graph: onnxTypes.IGraphProto,
    private readonly options: Required<TfGraphOptions>,
  ) {}

  translate(): TfGraph {
    const inputs: Record<string, TfSignatureTensor> = {};
    for (const input of this.graph.input ?? []) {
      const dims: Dim[] = input.type!.tensorType!.shape!.dim!.map((d) =>
        d.dimParam ? d.dimParam : toNumber(d.dimValue)
      );
      const name = input.name!;
      dims.forEach((d, axis) => {
        if (typeof d === "string" && !this.dimSources.has(d)) {
          this.dimSources.set(d, [name, axis]);
        }
      });
      const shape = dims.map((d) => (typeof d === "number" ? d : -1));
      this.nodes.push({
        name,
        op: "Placeholder",
        inputs: [],
        attrs: { dtype: { type: "int32" }, shape: { shape } },
      });
      this.values.set(name, { dtype: "int32", shape: dims, ref: name });
      inputs[name] = { tensor: `${name}:0`, dtype: "int32", shape };
    }
    for (const init of this.graph.initializer ?? []) {
      const dims = (init.dims ?? []).map(toNumber);
      const bytes = tensorData(init);
      if (init.dataType === ONNX_FLOAT) {
        this.values.set(init.name!, {
          dtype: "float",
          shape: dims,
          floatData: new Float32Array(bytes.buffer),
        });
      } else if (init.dataType === ONNX_INT64) {
        this.values.set(init.name!, {
          dtype: "int32",
          shape: dims,
          ints: Array.from(new BigInt64Array(bytes.buffer), Number),
        });
      } else {
        throw unsupported(`initializer ${init.name} of type ${init.dataType}`);
      }
    }
    const outputNames = new Set((this.graph.output ?? []).map((o) => o.name!));
    const index = indexGraph(this.graph.node ?? []);
    this.findSiblingLinears(outputNames);
    if (this.options.attention === "course") this.fuseAttention(index);
    if (this.options.layerNorm === "course") {
      this.residuals = findResidualLayerNorms(
        this.graph.node ?? [],
        index,
        (name) => this.values.get(name)?.floatData !== undefined,
      );
      for (const { sum } of this.residuals.values()) this.done.add(sum);
    }
    for (const node of this.graph.node ?? []) {
      if (this.done.has(node.output![0])) continue;
      this.translateNode(node, outputNames);
    }

    const outputs: Record<string, TfSignatureTensor> = {};
    for (const output of this.graph.output ?? []) {
      const value = this.get(output.name!);
      outputs[output.name!] = {
        tensor: `${output.name}:0`,
        dtype: "float",
        shape: value.shape.map((d) => (typeof d === "number" ? d : -1)),
      };
    }
    return {
      savedModel: encodeSavedModel({
        nodes: this.nodes,
        tags: [SAVED_MODEL_TAG],
        signature: { key: "serving_default", inputs, outputs },
      }),
      inputs: Object.keys(inputs),
      outputs: Object.keys(outputs),
    };
  }

  private get(name: string): Value {
    const value = this.values.get(name);
    if (!value) throw unsupported(`value "${name}" is used before it is made`);
    return value;
  }

  private add(
    op: string,
    inputs: string[],
    attrs: Record<string, TfAttr>,
    name?: string,
  ): string {
    const nodeName = name ?? `${op}_${this.counter++}`;
    this.nodes.push({ name: nodeName, op, inputs, attrs });
    return nodeName;
  }

  private constInts(values: number[], shape = [values.length]): string {
    const key = `i32:${shape}:${values}`;
    let name = this.cache.get(key);
    if (!name) {
      const content = new Uint8Array(new Int32Array(values).buffer);
      name = this.add("Const", [], {
        dtype: { type: "int32" },
        value: { tensor: { dtype: "int32", shape, content } },
      });
      this.cache.set(key, name);
    }
    return name;
  }

  private constFloat(data: Float32Array, shape: number[]): string {
    const content = new Uint8Array(
      data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    );
    return this.add("Const", [], {
      dtype: { type: "float" },
      value: { tensor: { dtype: "float", shape, content } },
    });
  }

  /** A 1-D int32 tensor of length 1 holding the size of a named input axis. */
  private dimTensor(dim: string): string {
    const key = `dim:${dim}`;
    let name = this.cache.get(key);
    if (!name) {
      const source = this.dimSources.get(dim);
      if (!source) throw unsupported(`unknown dimension "${dim}"`);
      const [input, axis] = source;
      const shape = this.add("Shape", [input], {
        T: { type: "int32" },
        out_type: { type: "int32" },
      });
      name = this.stridedSlice(
        shape,
        [axis],
        this.constInts([axis + 1]),
        "int32",
      );
      this.cache.set(key, name);
    }
    return name;
  }

  /** A 1-D int32 tensor holding symbolic sizes. */
  private shapeTensor(dims: Dim[]): string {
    if (dims.every((d) => typeof d === "number")) {
      return this.constInts(dims as number[]);
    }
    const key = `shape:${dims}`;
    let name = this.cache.get(key);
    if (!name) {
      const pieces: string[] = [];
      let run: number[] = [];
      for (const d of dims) {
        if (typeof d === "number") {
          run.push(d);
          continue;
        }
        if (run.length) pieces.push(this.constInts(run));
        run = [];
        pieces.push(this.dimTensor(d));
      }
      if (run.length) pieces.push(this.constInts(run));
      name = pieces.length === 1 ? pieces[0] : this.add(
        "ConcatV2",
        [...pieces, this.constInts([0], [])],
        {
          N: { i: pieces.length },
          T: { type: "int32" },
          Tidx: { type: "int32" },
        },
      );
      this.cache.set(key, name);
    }
    return name;
  }

  private stridedSlice(
    input: string,
    begin: number[],
    end: string,
    dtype: TfDtype,
  ): string {
    return this.add("StridedSlice", [
      input,
      this.constInts(begin),
      end,
      this.constInts(begin.map(() => 1)),
    ], {
      T: { type: dtype },
      Index: { type: "int32" },
      begin_mask: { i: 0 },
      end_mask: { i: 0 },
      ellipsis_mask: { i: 0 },
      new_axis_mask: { i: 0 },
      shrink_axis_mask: { i: 0 },
    });
  }

  /** The value in its own shape. */
  private refOf(v: Value): string {
    if (v.ref) return v.ref;
    if (v.floatData) {
      v.ref = this.constFloat(v.floatData, v.shape as number[]);
    } else if (v.ints) {
      v.ref = v.shape.length === 0
        ? this.constInts(v.ints as number[], [])
        : this.shapeTensor(v.ints);
    } else {
      v.ref = this.add("Reshape", [v.flat!, this.shapeTensor(v.shape)], {
        T: { type: v.dtype },
        Tshape: { type: "int32" },
      });
    }
    return v.ref;
  }

  /** The value as [rows, last dim]. */
  private flatOf(v: Value): string {
    if (v.flat) return v.flat;
    if (v.shape.length === 2) return (v.flat = this.refOf(v));
    const last = v.shape[v.shape.length - 1];
    if (typeof last !== "number" || v.shape.length < 2) {
      throw unsupported(`cannot flatten shape [${v.shape}]`);
    }
    v.flat = this.add("Reshape", [this.refOf(v), this.constInts([-1, last])], {
      T: { type: v.dtype },
      Tshape: { type: "int32" },
    });
    return v.flat;
  }

  /** Scalar or broadcast along the last axis only: usable as is next to a flat operand. */
  private isLastAxisOperand(v: Value): boolean {
    return v.shape.length <= 1;
  }

  private isScalarConst(v: Value): boolean {
    return v.floatData !== undefined && v.floatData.length === 1;
  }

  private set(name: string, value: Value): void {
    this.values.set(name, value);
  }

  private translateNode(
    node: onnxTypes.INodeProto,
    graphOutputs: Set<string>,
  ): void {
    const op = node.opType!;
    const ins = (node.input ?? []).map((n) => n);
    const out = node.output![0];
    const attention = this.attentionAt.get(out);
    if (attention) return this.attention(attention);
    if (op in BINARY) return this.binary(BINARY[op], ins, out);
    if (op in UNARY) return this.lastAxisOp(UNARY[op], this.get(ins[0]), out);
    switch (op) {
      case "Identity": {
        const v = this.get(ins[0]);
        if (graphOutputs.has(out)) {
          this.add("Identity", [this.refOf(v)], { T: { type: v.dtype } }, out);
          this.set(out, { dtype: v.dtype, shape: v.shape, ref: out });
        } else {
          this.set(out, v);
        }
        return;
      }
      case "Gather": {
        const data = this.get(ins[0]);
        const indices = this.get(ins[1]);
        const axis = normalizeAxis(
          numberAttr(node, "axis", 0),
          data.shape.length,
        );
        const ref = this.add("GatherV2", [
          this.refOf(data),
          this.refOf(indices),
          this.constInts([axis], []),
        ], {
          Tparams: { type: data.dtype },
          Tindices: { type: "int32" },
          Taxis: { type: "int32" },
          batch_dims: { i: 0 },
        });
        this.set(out, {
          dtype: data.dtype,
          shape: [
            ...data.shape.slice(0, axis),
            ...indices.shape,
            ...data.shape.slice(axis + 1),
          ],
          ref,
        });
        return;
      }
      case "Shape": {
        const v = this.get(ins[0]);
        const rank = v.shape.length;
        const start = numberAttr(node, "start", 0);
        const end = numberAttr(node, "end", rank);
        const ints = v.shape.slice(
          start < 0 ? start + rank : start,
          end < 0 ? end + rank : end,
        );
        this.set(out, { dtype: "int32", shape: [ints.length], ints });
        return;
      }
      case "Slice":
        return this.slice(ins, out);
      case "Cast": {
        const v = this.get(ins[0]);
        const to = numberAttr(node, "to");
        const dtype: TfDtype = to === ONNX_FLOAT
          ? "float"
          : to === ONNX_INT64 || to === ONNX_INT32
          ? "int32"
          : (() => {
            throw unsupported(`Cast to type ${to}`);
          })();
        if (dtype === v.dtype) return this.set(out, v);
        const ref = this.add("Cast", [this.refOf(v)], {
          SrcT: { type: v.dtype },
          DstT: { type: dtype },
          Truncate: { b: false },
        });
        this.set(out, { dtype, shape: v.shape, ref });
        return;
      }
      case "Unsqueeze": {
        const v = this.get(ins[0]);
        const axesValue = this.get(ins[1]).ints;
        if (!axesValue?.every((a) => typeof a === "number")) {
          throw unsupported("Unsqueeze with computed axes");
        }
        const rank = v.shape.length + axesValue.length;
        const axes = (axesValue as number[]).map((a) => normalizeAxis(a, rank))
          .sort((a, b) => a - b);
        let ref = this.refOf(v);
        const shape = [...v.shape];
        for (const axis of axes) {
          ref = this.add("ExpandDims", [ref, this.constInts([axis], [])], {
            T: { type: v.dtype },
            Tdim: { type: "int32" },
          });
          shape.splice(axis, 0, 1);
        }
        this.set(out, { dtype: v.dtype, shape, ref });
        return;
      }
      case "Reshape": {
        const v = this.get(ins[0]);
        const target = this.get(ins[1]).ints;
        if (!target) throw unsupported("Reshape to a computed shape");
        const shape = target.map((d, i) => {
          if (d === 0) return v.shape[i];
          if (typeof d === "number" && d < 0) {
            throw unsupported("Reshape with -1");
          }
          return d;
        });
        const ref = this.add("Reshape", [
          v.flat ?? this.refOf(v),
          this.shapeTensor(shape),
        ], { T: { type: v.dtype }, Tshape: { type: "int32" } });
        this.set(out, { dtype: v.dtype, shape, ref });
        return;
      }
      case "Transpose": {
        const v = this.get(ins[0]);
        const perm = intsAttr(node, "perm") ??
          v.shape.map((_, i) => v.shape.length - 1 - i);
        const ref = this.add(
          "Transpose",
          [this.refOf(v), this.constInts(perm)],
          {
            T: { type: v.dtype },
            Tperm: { type: "int32" },
          },
        );
        this.set(out, {
          dtype: v.dtype,
          shape: perm.map((p) => v.shape[p]),
          ref,
        });
        return;
      }
      case "MatMul": {
        const group = this.siblings.get(out);
        if (group) return this.mergedLinears(group);
        return this.matMul(this.get(ins[0]), this.get(ins[1]), out);
      }
      case "Softmax": {
        const v = this.get(ins[0]);
        const axis = normalizeAxis(
          numberAttr(node, "axis", -1),
          v.shape.length,
        );
        if (axis !== v.shape.length - 1) {
          throw unsupported("Softmax over an inner axis");
        }
        return this.lastAxisOp("Softmax", v, out);
      }
      case "LayerNormalization":
        return this.layerNorm(node, ins, out);
      case "Split": {
        const v = this.get(ins[0]);
        if (ins.length > 1) throw unsupported("Split with explicit sizes");
        const count = node.output!.length;
        const axis = normalizeAxis(numberAttr(node, "axis", 0), v.shape.length);
        const size = v.shape[axis];
        if (typeof size !== "number" || size % count !== 0) {
          throw unsupported(`Split of dimension ${size} into ${count}`);
        }
        const name = this.add("Split", [
          this.constInts([axis], []),
          this.refOf(v),
        ], {
          T: { type: v.dtype },
          num_split: { i: count },
        });
        node.output!.forEach((o, i) => {
          const shape = [...v.shape];
          shape[axis] = size / count;
          this.set(o, { dtype: v.dtype, shape, ref: `${name}:${i}` });
        });
        return;
      }
      case "Squeeze": {
        const v = this.get(ins[0]);
        const axesValue = ins[1] ? this.get(ins[1]).ints : undefined;
        if (!axesValue?.every((a) => typeof a === "number")) {
          throw unsupported("Squeeze without constant axes");
        }
        const axes = (axesValue as number[]).map((a) =>
          normalizeAxis(a, v.shape.length)
        );
        for (const axis of axes) {
          if (v.shape[axis] !== 1) {
            throw unsupported(`Squeeze of axis ${axis} of [${v.shape}]`);
          }
        }
        const ref = this.add("Squeeze", [this.refOf(v)], {
          T: { type: v.dtype },
          squeeze_dims: { ints: axes },
        });
        this.set(out, {
          dtype: v.dtype,
          shape: v.shape.filter((_, i) => !axes.includes(i)),
          ref,
        });
        return;
      }
      default:
        throw unsupported(`operator ${op}`);
    }
  }

  private binary(tfOp: string, ins: string[], out: string): void {
    let a = this.get(ins[0]);
    let b = this.get(ins[1]);
    if (a.dtype !== b.dtype) {
      throw unsupported(`${tfOp} of ${a.dtype} and ${b.dtype}`);
    }
    const shape = broadcast(a.shape, b.shape);
    if (
      COMMUTATIVE.has(tfOp) && this.isScalarConst(b) && !this.isScalarConst(a)
    ) {
      [a, b] = [b, a];
    }
    const attrs = { T: { type: a.dtype } } as Record<string, TfAttr>;
    // On flat operands when that keeps the chain 2-D: each side either has the full shape or
    // broadcasts along the last axis only.
    const flatFits = (v: Value) =>
      (sameDims(v.shape, shape) && shape.length >= 2) ||
      this.isLastAxisOperand(v);
    const onFlat = shape.length > 2 &&
      (a.flat !== undefined || b.flat !== undefined) &&
      flatFits(a) && flatFits(b) && typeof shape[shape.length - 1] === "number";
    const operand = (v: Value) =>
      onFlat && !this.isLastAxisOperand(v) ? this.flatOf(v) : this.refOf(v);
    const isBias = (v: Value) =>
      v.floatData !== undefined && v.shape.length === 1 &&
      v.shape[0] === shape[shape.length - 1];
    let name: string;
    if (
      tfOp === "AddV2" && (onFlat || shape.length === 2) &&
      (isBias(a) || isBias(b))
    ) {
      const [x, bias] = isBias(b) ? [a, b] : [b, a];
      name = this.biasAdd(operand(x), this.refOf(bias));
    } else {
      name = this.add(tfOp, [operand(a), operand(b)], attrs);
    }
    this.set(
      out,
      onFlat ? { dtype: a.dtype, shape, flat: name } : {
        dtype: a.dtype,
        shape,
        ref: name,
      },
    );
  }

  /** An op along the last axis (elementwise ones too): applied to the flat form when there is one. */
  private lastAxisOp(tfOp: string, v: Value, out: string): void {
    const name = this.add(tfOp, [v.flat ?? this.refOf(v)], {
      T: { type: v.dtype },
    });
    this.set(
      out,
      v.flat ? { dtype: v.dtype, shape: v.shape, flat: name } : {
        dtype: v.dtype,
        shape: v.shape,
        ref: name,
      },
    );
  }

  /**
   * Finds linear layers (MatMul by a constant [in, out] weight, then Add of a constant bias) that
   * read the same input, such as attention's query, key and value projections.
   */
  private findSiblingLinears(graphOutputs: Set<string>): void {
    const nodes = this.graph.node ?? [];
    const readers = new Map<string, onnxTypes.INodeProto[]>();
    for (const node of nodes) {
      for (const input of node.input ?? []) {
        if (!readers.has(input)) readers.set(input, []);
        readers.get(input)!.push(node);
      }
    }
    const constant = (name: string, rank: number) => {
      const v = this.values.get(name);
      return v?.floatData && v.shape.length === rank ? v : undefined;
    };
    const byInput = new Map<string, SiblingLinear[]>();
    for (const node of nodes) {
      if (node.opType !== "MatMul") continue;
      const [input, weightName] = node.input!;
      const product = node.output![0];
      const weight = constant(weightName, 2);
      const add = readers.get(product);
      if (
        !weight || add?.length !== 1 || add[0].opType !== "Add" ||
        graphOutputs.has(product)
      ) continue;
      const biasName = add[0].input!.find((name) => name !== product)!;
      const bias = constant(biasName, 1);
      if (!bias || bias.shape[0] !== weight.shape[1]) continue;
      const linear = {
        product,
        output: add[0].output![0],
        weight,
        bias,
      };
      if (!byInput.has(input)) byInput.set(input, []);
      byInput.get(input)!.push(linear);
    }
    for (const [input, linears] of byInput) {
      if (linears.length < 2) continue;
      const group = { input, linears };
      for (const linear of linears) {
        this.siblings.set(linear.product, group);
        this.done.add(linear.product);
        this.done.add(linear.output);
      }
      // The first MatMul in graph order emits the group.
      this.done.delete(linears[0].product);
    }
  }

  /**
   * Attention blocks whose query, key and value are exactly one group of sibling linears: their
   * inner nodes are skipped, the group emits the QKV projection unsplit, and the block's output
   * node emits `CourseAttention` on it.
   */
  private fuseAttention(index: GraphIndex): void {
    const patterns = findAttentionPatterns(this.graph.node ?? [], index, {
      ints: (name) => {
        const ints = this.values.get(name)?.ints;
        return ints?.every((d) => typeof d === "number")
          ? ints as number[]
          : undefined;
      },
      scalar: (name) => {
        const data = this.values.get(name)?.floatData;
        return data?.length === 1 ? data[0] : undefined;
      },
    });
    const groupOf = (output: string) =>
      [...this.siblings.values()].find((g) =>
        g.linears.some((l) => l.output === output)
      );
    for (const pattern of patterns) {
      const group = groupOf(pattern.query);
      const outputs = group?.linears.map((l) => l.output).sort();
      const wanted = [pattern.query, pattern.key, pattern.value].sort();
      if (!group || outputs!.join() !== wanted.join()) continue;
      // Query, key, value in that order: the layout CourseAttention reads.
      const order = [pattern.query, pattern.key, pattern.value];
      group.linears.sort((a, b) =>
        order.indexOf(a.output) - order.indexOf(b.output)
      );
      this.attentionOf.set(group, pattern);
      this.attentionAt.set(pattern.output, pattern);
      for (const inner of pattern.inner) this.done.add(inner);
    }
  }

  private attention(pattern: AttentionPattern): void {
    const { qkv, shape } = this.qkvOf.get(pattern)!;
    const name = this.add("CourseAttention", [
      qkv,
      this.refOf(this.get(pattern.mask)),
    ], {
      heads: { i: pattern.heads },
      scale: { f: 1 / pattern.divisor },
    });
    this.setFlat(pattern.output, shape, name);
  }

  /**
   * One GEMM for sibling linear layers, their weights side by side, then a split: oneDNN runs
   * [tokens, 256] x [256, 768] at about twice the FLOP rate of three [256, 256] products.
   */
  private mergedLinears(group: SiblingLinears): void {
    const x = this.get(group.input);
    const k = group.linears[0].weight.shape[0] as number;
    const widths = group.linears.map((l) => l.weight.shape[1] as number);
    const total = widths.reduce((a, b) => a + b, 0);
    const weight = new Float32Array(k * total);
    const bias = new Float32Array(total);
    let column = 0;
    for (const [i, linear] of group.linears.entries()) {
      const data = linear.weight.floatData!;
      for (let row = 0; row < k; row++) {
        weight.set(
          data.subarray(row * widths[i], (row + 1) * widths[i]),
          row * total + column,
        );
      }
      bias.set(linear.bias.floatData!, column);
      column += widths[i];
    }
    const biased = this.biasAdd(
      this.gemm(this.flatOf(x), this.constFloat(weight, [k, total])),
      this.constFloat(bias, [total]),
    );
    const attention = this.attentionOf.get(group);
    if (attention) {
      // Only the block reads the three projections (patterns.ts checks), so none is split out.
      this.qkvOf.set(attention, {
        qkv: biased,
        shape: [...x.shape.slice(0, -1), attention.heads * attention.headSize],
      });
      return;
    }
    const split = this.add("SplitV", [
      biased,
      this.constInts(widths),
      this.constInts([1], []),
    ], {
      T: { type: "float" },
      Tlen: { type: "int32" },
      num_split: { i: widths.length },
    });
    for (const [i, linear] of group.linears.entries()) {
      this.setFlat(
        linear.output,
        [...x.shape.slice(0, -1), widths[i]],
        `${split}:${i}`,
      );
    }
  }

  /** x · W for a 2-D x: the MatMul the remapper fuses with a following BiasAdd (and GELU). */
  private gemm(x: string, weight: string): string {
    return this.add("MatMul", [x, weight], {
      T: { type: "float" },
      transpose_a: { b: false },
      transpose_b: { b: false },
    });
  }

  /** x + bias on [rows, features]: BiasAdd, the form the remapper folds into MatMul. */
  private biasAdd(x: string, bias: string): string {
    return this.add("BiasAdd", [x, bias], {
      T: { type: "float" },
      data_format: { s: "NHWC" },
    });
  }

  /** A float value produced as [rows, last dim]; for a 2-D value that is also its own shape. */
  private setFlat(out: string, shape: Dim[], name: string): void {
    this.set(out, {
      dtype: "float",
      shape,
      flat: name,
      ...(shape.length === 2 ? { ref: name } : {}),
    });
  }

  private matMul(a: Value, b: Value, out: string): void {
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw unsupported("MatMul of vectors");
    }
    const k = a.shape[a.shape.length - 1];
    if (k !== b.shape[b.shape.length - 2]) {
      throw unsupported(`MatMul of [${a.shape}] and [${b.shape}]`);
    }
    const n = b.shape[b.shape.length - 1];
    if (b.shape.length === 2) {
      // x · W on [rows, k]: one GEMM, and a flat result the following ops can stay on.
      const name = this.gemm(this.flatOf(a), this.refOf(b));
      this.setFlat(out, [...a.shape.slice(0, -1), n], name);
      return;
    }
    const batch = broadcast(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const name = this.add("BatchMatMulV2", [this.refOf(a), this.refOf(b)], {
      T: { type: "float" },
      adj_x: { b: false },
      adj_y: { b: false },
    });
    this.set(out, {
      dtype: "float",
      shape: [...batch, a.shape[a.shape.length - 2], n],
      ref: name,
    });
  }

  private slice(ins: string[], out: string): void {
    const data = this.get(ins[0]);
    const starts = this.get(ins[1]).ints;
    const ends = this.get(ins[2]).ints;
    const axes = ins[3] ? this.get(ins[3]).ints : starts?.map((_, i) => i);
    const steps = ins[4] ? this.get(ins[4]).ints : undefined;
    if (
      !starts || !ends || !axes || starts.some((s) => typeof s !== "number")
    ) {
      throw unsupported("Slice with computed starts");
    }
    if (steps && steps.some((s) => s !== 1)) {
      throw unsupported("Slice with steps");
    }
    const rank = data.shape.length;
    // Leading axes only, so begin/end need no entry for the axes left whole.
    if (
      !axes.every((a, i) =>
        typeof a === "number" && normalizeAxis(a, rank) === i
      )
    ) {
      throw unsupported("Slice of other than the leading axes");
    }
    const shape = [...data.shape];
    starts.forEach((start, i) => {
      const end = ends[i];
      if (start !== 0 && typeof end !== "number") {
        throw unsupported("Slice from a non-zero start to a dynamic end");
      }
      const size = data.shape[i];
      shape[i] = typeof end === "number" && typeof size === "number"
        ? Math.min(end, size) - (start as number)
        : end;
    });
    const ref = this.stridedSlice(
      this.refOf(data),
      starts as number[],
      this.shapeTensor(ends),
      data.dtype,
    );
    this.set(out, { dtype: data.dtype, shape, ref });
  }

  /**
   * LayerNorm, y = (x − mean)·rsqrt(var + ε)·γ + β over the last axis.
   * "fused": one `_MklLayerNorm` node carrying ε. "ops": the paper's form, inv = rsqrt(var + ε)·γ;
   * y = (x − mean)·inv + β, and deliberately not Keras' `x·inv + (β − mean·inv)`: TensorFlow's
   * remapper (TF 2.21) rewrites that form into `_MklLayerNorm` without copying ε, so the kernel
   * runs with its default 0.001 instead of BERT's 1e-12 (1.4 off on a unit-scale test; 2e-2 on the
   * course model's logits).
   */
  private layerNorm(
    node: onnxTypes.INodeProto,
    ins: string[],
    out: string,
  ): void {
    const residual = this.residuals.get(out);
    const operands = residual?.operands.map((name) => this.get(name));
    if (
      residual && !operands!.every((v) => sameDims(v.shape, operands![0].shape))
    ) {
      this.binary("AddV2", residual.operands, residual.sum); // broadcasting: not fused
    }
    const x = this.values.get(ins[0]) ?? operands?.[0] ?? this.get(ins[0]);
    const gamma = this.get(ins[1]);
    const beta = this.get(ins[2]);
    const rank = x.shape.length;
    if (normalizeAxis(numberAttr(node, "axis", -1), rank) !== rank - 1) {
      throw unsupported("LayerNormalization over more than the last axis");
    }
    const eps = numberAttr(node, "epsilon", 1e-5);
    if (this.options.layerNorm === "course") {
      const name = this.values.has(ins[0])
        ? this.add("CourseLayerNorm", [
          this.flatOf(x),
          this.refOf(gamma),
          this.refOf(beta),
        ], { epsilon: { f: eps } }) + ":0"
        : this.add("CourseAddLayerNorm", [
          ...operands!.map((v) => this.flatOf(v)),
          this.refOf(gamma),
          this.refOf(beta),
        ], { epsilon: { f: eps } });
      this.setFlat(out, x.shape, name);
      return;
    }
    if (this.options.layerNorm === "fused") {
      // oneDNN's LayerNorm kernel, written directly with the model's epsilon: one op instead of
      // nine. (TensorFlow's own remapper would fuse the nine ops below into this kernel too, but
      // drops the epsilon constant and uses 0.001, so the ops are kept out of its pattern.)
      // The node is named by hand: TensorFlow refuses node names that start with "_".
      const name = this.add(
        this.options.layerNormKernel,
        [
          this.flatOf(x),
          this.refOf(gamma),
          this.refOf(beta),
        ],
        { T: { type: "float" }, epsilon: { f: eps } },
        `LayerNorm_${this.counter++}`,
      );
      this.setFlat(out, x.shape, name);
      return;
    }
    const input = x.flat ?? this.refOf(x);
    const axis = this.constInts([x.flat ? 1 : rank - 1]);
    const T = { T: { type: "float" as TfDtype } };
    const meanAttrs = {
      ...T,
      Tidx: { type: "int32" as TfDtype },
      keep_dims: { b: true },
    };
    const mean = this.add("Mean", [input, axis], meanAttrs);
    const variance = this.add("Mean", [
      this.add("SquaredDifference", [input, mean], T),
      axis,
    ], meanAttrs);
    const inv = this.add("Mul", [
      this.add("Rsqrt", [
        this.add("AddV2", [
          variance,
          this.constFloat(new Float32Array([eps]), []),
        ], T),
      ], T),
      this.refOf(gamma),
    ], T);
    const name = this.add("AddV2", [
      this.add("Mul", [this.add("Sub", [input, mean], T), inv], T),
      this.refOf(beta),
    ], T);
    this.set(
      out,
      x.flat ? { dtype: "float", shape: x.shape, flat: name } : {
        dtype: "float",
        shape: x.shape,
        ref: name,
      },
    );
  }
}
