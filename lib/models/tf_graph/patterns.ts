/**
 * Subgraphs of the course's exported ONNX graph (onnx/bert_graph.ts) that the TensorFlow
 * translator can hand to one of the course's fused kernels (lib/runtime/native_kernels.cc):
 * self-attention's core and a sublayer's residual sum before its LayerNorm. Matching is exact:
 * every node of a pattern, its constants and its single reader are checked, so a graph written
 * differently is translated op by op instead of wrongly fused.
 */
import type { onnxTypes } from "../onnx/proto.ts";

type Node = onnxTypes.INodeProto;

/** Who makes and who reads each value of a graph. */
export interface GraphIndex {
  producer: Map<string, Node>;
  readers: Map<string, Node[]>;
}

/** The constants a pattern needs: integer and scalar float initializers by name. */
export interface Constants {
  ints(name: string): number[] | undefined;
  scalar(name: string): number | undefined;
}

export function indexGraph(nodes: Node[]): GraphIndex {
  const producer = new Map<string, Node>();
  const readers = new Map<string, Node[]>();
  for (const node of nodes) {
    for (const output of node.output ?? []) producer.set(output, node);
    for (const input of node.input ?? []) {
      if (!readers.has(input)) readers.set(input, []);
      readers.get(input)!.push(node);
    }
  }
  return { producer, readers };
}

/**
 * softmax(QKᵀ / divisor + mask)·V over heads, from the query, key and value projections to the
 * merged context [batch, seq, hidden].
 */
export interface AttentionPattern {
  /** Outputs of the query, key and value linear layers ([batch, seq, hidden] each). */
  query: string;
  key: string;
  value: string;
  /** The additive mask, [batch, 1, 1, seq]. */
  mask: string;
  heads: number;
  headSize: number;
  /** The scores are divided by this (√headSize). */
  divisor: number;
  /** The merged context: the one output of the block. */
  output: string;
  /** Outputs of the other nodes of the block, which nothing outside it reads. */
  inner: string[];
}

function sameInts(a: number[] | undefined, b: number[]): boolean {
  return a !== undefined && a.length === b.length &&
    a.every((v, i) => v === b[i]);
}

function permOf(node: Node): number[] | undefined {
  return node.attribute?.find((a) => a.name === "perm")?.ints?.map(Number);
}

export function findAttentionPatterns(
  nodes: Node[],
  index: GraphIndex,
  constants: Constants,
): AttentionPattern[] {
  /** The node that makes `value`, if it is an `op` and `value` has no other reader. */
  const madeBy = (value: string, op: string): Node | undefined => {
    const node = index.producer.get(value);
    return node?.opType === op && index.readers.get(value)?.length === 1
      ? node
      : undefined;
  };
  /** The one reader of `value`, if it is an `op`. */
  const readBy = (value: string, op: string): Node | undefined => {
    const readers = index.readers.get(value);
    return readers?.length === 1 && readers[0].opType === op
      ? readers[0]
      : undefined;
  };
  /** Transpose(Reshape(linear, [0, 0, heads, size]), perm): one projection split into heads. */
  const heads = (value: string, perm: number[]) => {
    const transpose = madeBy(value, "Transpose");
    if (!transpose || !sameInts(permOf(transpose), perm)) return undefined;
    const reshape = madeBy(transpose.input![0], "Reshape");
    const target = reshape && constants.ints(reshape.input![1]);
    if (
      !reshape || !target || target.length !== 4 || target[0] !== 0 ||
      target[1] !== 0 || index.readers.get(reshape.input![0])?.length !== 1
    ) return undefined;
    return {
      linear: reshape.input![0],
      heads: target[2],
      size: target[3],
      inner: [transpose.output![0], reshape.output![0]],
    };
  };

  const patterns: AttentionPattern[] = [];
  for (const softmax of nodes) {
    if (softmax.opType !== "Softmax") continue;
    const axis = softmax.attribute?.find((a) => a.name === "axis")?.i;
    if (axis !== undefined && Number(axis) !== -1 && Number(axis) !== 3) {
      continue;
    }
    const add = madeBy(softmax.input![0], "Add");
    if (!add) continue;
    const side = add.input!.findIndex((name) =>
      index.producer.get(name)?.opType === "Div"
    );
    const div = side < 0 ? undefined : madeBy(add.input![side], "Div");
    const divisor = div && constants.scalar(div.input![1]);
    const scores = div && madeBy(div.input![0], "MatMul");
    const probsTimesValue = readBy(softmax.output![0], "MatMul");
    if (
      !div || divisor === undefined || !scores || !probsTimesValue ||
      probsTimesValue.input![0] !== softmax.output![0]
    ) continue;
    const query = heads(scores.input![0], [0, 2, 1, 3]);
    const key = heads(scores.input![1], [0, 2, 3, 1]);
    const value = heads(probsTimesValue.input![1], [0, 2, 1, 3]);
    const merge = readBy(probsTimesValue.output![0], "Transpose");
    const reshape = merge && readBy(merge.output![0], "Reshape");
    if (
      !query || !key || !value || !merge || !reshape ||
      !sameInts(permOf(merge), [0, 2, 1, 3])
    ) continue;
    const { heads: h, size } = query;
    if (
      key.heads !== h || value.heads !== h || key.size !== size ||
      value.size !== size ||
      !sameInts(constants.ints(reshape.input![1]), [0, 0, h * size])
    ) continue;
    patterns.push({
      query: query.linear,
      key: key.linear,
      value: value.linear,
      mask: add.input![1 - side],
      heads: h,
      headSize: size,
      divisor,
      output: reshape.output![0],
      inner: [
        ...query.inner,
        ...key.inner,
        ...value.inner,
        scores.output![0],
        div.output![0],
        add.output![0],
        softmax.output![0],
        probsTimesValue.output![0],
        merge.output![0],
      ],
    });
  }
  return patterns;
}

/** LayerNormalization(a + b) of two computed values: BERT's residual connections. */
export interface ResidualLayerNorm {
  /** The Add node's output, which only the LayerNorm reads. */
  sum: string;
  operands: [string, string];
}

/** Residual sums by the output of the LayerNorm that reads them. */
export function findResidualLayerNorms(
  nodes: Node[],
  index: GraphIndex,
  isConstant: (name: string) => boolean,
): Map<string, ResidualLayerNorm> {
  const found = new Map<string, ResidualLayerNorm>();
  for (const norm of nodes) {
    if (norm.opType !== "LayerNormalization") continue;
    const sum = norm.input![0];
    const add = index.producer.get(sum);
    if (
      add?.opType !== "Add" || index.readers.get(sum)?.length !== 1 ||
      add.input!.some(isConstant)
    ) continue;
    found.set(norm.output![0], {
      sum,
      operands: [add.input![0], add.input![1]],
    });
  }
  return found;
}
