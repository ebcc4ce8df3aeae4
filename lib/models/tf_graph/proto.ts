/**
 * The few TensorFlow protobuf messages a frozen inference graph needs (SavedModel, MetaGraphDef,
 * GraphDef, NodeDef, AttrValue, TensorProto, TensorShapeProto, SignatureDef), encoded by hand:
 * field numbers from tensorflow/core/{framework,protobuf}/*.proto. TensorFlow's own loader
 * (`TF_LoadSessionFromSavedModel`, reached through tfjs-node) reads the result; no protobuf
 * library is needed for a write-only subset this small.
 */

/** TensorFlow `DataType` enum values used by the graph. */
export const DT = { float: 1, int32: 3 } as const;
export type TfDtype = keyof typeof DT;

/** A NodeDef attribute value. A shape dimension of -1 is unknown. */
export type TfAttr =
  | { type: TfDtype }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { s: string }
  | { shape: number[] }
  | { tensor: TfTensorValue }
  | { ints: number[] };

export interface TfTensorValue {
  dtype: TfDtype;
  shape: number[];
  /** Little-endian bytes of the values (float32 or int32). */
  content: Uint8Array;
}

export interface TfNodeDef {
  name: string;
  op: string;
  inputs: string[];
  attrs: Record<string, TfAttr>;
}

export interface TfSignatureTensor {
  /** The graph tensor, "node:0". */
  tensor: string;
  dtype: TfDtype;
  shape: number[];
}

export interface SavedModelParts {
  nodes: TfNodeDef[];
  tags: string[];
  signature: {
    key: string;
    inputs: Record<string, TfSignatureTensor>;
    outputs: Record<string, TfSignatureTensor>;
  };
}

/** TF_GRAPH_DEF_VERSION of TensorFlow 2.9, the oldest library tfjs-node 4.22 ships with. */
const GRAPH_DEF_PRODUCER = 1087;

const encoder = new TextEncoder();

/** Bytes of one message: fields appended in order. */
class Message {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.byteLength;
  }

  private key(field: number, wireType: number): void {
    this.push(varint(field * 8 + wireType));
  }

  /** int32/int64/enum/bool (negative numbers as 64-bit two's complement). */
  int(field: number, value: number | boolean): this {
    this.key(field, 0);
    this.push(varint(typeof value === "boolean" ? Number(value) : value));
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.push(varint(value.byteLength));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  message(field: number, value: Message): this {
    return this.bytes(field, value.finish());
  }

  packedInts(field: number, values: number[]): this {
    const body = new Message();
    for (const v of values) body.push(varint(v));
    return this.bytes(field, body.finish());
  }

  /** A `map<string, M>` entry (key = 1, value = 2). */
  mapEntry(field: number, key: string, value: Message): this {
    return this.message(field, new Message().string(1, key).message(2, value));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }
}

function varint(value: number): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    bytes.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return new Uint8Array(bytes);
}

function shapeProto(dims: number[]): Message {
  const shape = new Message();
  for (const size of dims) shape.message(2, new Message().int(1, size));
  return shape;
}

function tensorProto(value: TfTensorValue): Message {
  return new Message()
    .int(1, DT[value.dtype])
    .message(2, shapeProto(value.shape))
    .bytes(4, value.content);
}

function attrProto(attr: TfAttr): Message {
  const m = new Message();
  if ("type" in attr) return m.int(6, DT[attr.type]);
  if ("i" in attr) return m.int(3, attr.i);
  if ("f" in attr) return m.float(4, attr.f);
  if ("b" in attr) return m.int(5, attr.b);
  if ("s" in attr) return m.string(2, attr.s);
  if ("shape" in attr) return m.message(7, shapeProto(attr.shape));
  if ("tensor" in attr) return m.message(8, tensorProto(attr.tensor));
  return m.message(1, new Message().packedInts(3, attr.ints));
}

function nodeProto(node: TfNodeDef): Message {
  const m = new Message().string(1, node.name).string(2, node.op);
  for (const input of node.inputs) m.string(3, input);
  for (const [name, attr] of Object.entries(node.attrs)) {
    m.mapEntry(5, name, attrProto(attr));
  }
  return m;
}

function tensorInfo(info: TfSignatureTensor): Message {
  return new Message()
    .string(1, info.tensor)
    .int(2, DT[info.dtype])
    .message(3, shapeProto(info.shape));
}

/** `saved_model.pb` bytes: one MetaGraphDef with the graph, its tags and one signature. */
export function encodeSavedModel(parts: SavedModelParts): Uint8Array {
  const graph = new Message();
  for (const node of parts.nodes) graph.message(1, nodeProto(node));
  graph.message(4, new Message().int(1, GRAPH_DEF_PRODUCER));

  const metaInfo = new Message();
  for (const tag of parts.tags) metaInfo.string(4, tag);

  const signature = new Message();
  for (const [name, info] of Object.entries(parts.signature.inputs)) {
    signature.mapEntry(1, name, tensorInfo(info));
  }
  for (const [name, info] of Object.entries(parts.signature.outputs)) {
    signature.mapEntry(2, name, tensorInfo(info));
  }
  signature.string(3, "tensorflow/serving/predict");

  const metaGraph = new Message()
    .message(1, metaInfo)
    .message(2, graph)
    .mapEntry(5, parts.signature.key, signature);
  return new Message().int(1, 1).message(2, metaGraph).finish();
}
