/**
 * A small helper to assemble an ONNX graph node by node: it names
 * intermediate values, stores weights as initializers and serializes the
 * finished model with the official protobuf schema (see proto.ts).
 */
import { onnx, type onnxTypes } from "./proto.ts";

/** ONNX attribute values we use: ints, floats, int lists. */
export type AttributeValue = number | number[] | { float: number };

/** A dimension is a fixed size or a named dynamic axis ("batch_size"). */
export type Dim = number | string;

export interface GraphValue {
  name: string;
  elemType: "float32" | "int64";
  dims: Dim[];
}

const ELEM_TYPE = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
} as const;

// Opset 17 is the first with LayerNormalization; IR 8 is the proto version
// that introduced it (onnx 1.12 writes IR 8 with opset 17).
export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

export class GraphBuilder {
  private readonly nodes: onnxTypes.INodeProto[] = [];
  private readonly initializers: onnxTypes.ITensorProto[] = [];
  private readonly initializerNames = new Set<string>();
  private readonly inputs: GraphValue[] = [];
  private readonly outputs: GraphValue[] = [];
  private counter = 0;

  addInput(value: GraphValue): string {
    this.inputs.push(value);
    return value.name;
  }

  /** Marks an existing value as a graph output, renaming it via Identity. */
  addOutput(valueName: string, output: GraphValue): void {
    this.nodes.push({
      opType: "Identity",
      input: [valueName],
      output: [output.name],
      name: `output_${output.name}`,
    });
    this.outputs.push(output);
  }

  /** Stores a float32 weight; returns its name (reused if already stored). */
  addWeight(name: string, data: Float32Array, dims: number[]): string {
    if (this.initializerNames.has(name)) return name;
    this.initializerNames.add(name);
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      // rawData is little-endian bytes; copy so a caller's later writes to
      // `data` cannot change the exported model.
      rawData: new Uint8Array(
        data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      ),
    });
    return name;
  }

  addInt64Constant(name: string, values: number[], dims?: number[]): string {
    if (this.initializerNames.has(name)) return name;
    this.initializerNames.add(name);
    const bytes = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: dims ?? [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: new Uint8Array(bytes.buffer),
    });
    return name;
  }

  addFloatScalar(name: string, value: number): string {
    return this.addWeight(name, new Float32Array([value]), []);
  }

  /**
   * Appends one node and returns the names of its outputs. `prefix` makes the
   * value names readable in Netron (e.g. "layer.0.attention.scores").
   */
  node(
    opType: string,
    inputs: string[],
    prefix: string,
    attributes: Record<string, AttributeValue> = {},
    outputCount = 1,
  ): string[] {
    const id = this.counter++;
    const outputs = Array.from(
      { length: outputCount },
      (_, i) => outputCount === 1 ? `${prefix}_${id}` : `${prefix}_${id}_${i}`,
    );
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: `${opType}_${id}`,
      attribute: Object.entries(attributes).map(([name, value]) =>
        toAttribute(name, value)
      ),
    });
    return outputs;
  }

  /** Shorthand for single-output nodes. */
  op(
    opType: string,
    inputs: string[],
    prefix: string,
    attributes: Record<string, AttributeValue> = {},
  ): string {
    return this.node(opType, inputs, prefix, attributes)[0];
  }

  toBytes(
    graphName: string,
    docString: string,
    metadata: Record<string, string> = {},
  ): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: "bert-ko-course",
      producerVersion: "0.1.0",
      docString,
      opsetImport: [{ domain: "", version: OPSET_VERSION }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({
        key,
        value,
      })),
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(toValueInfo),
        output: this.outputs.map(toValueInfo),
      },
    });
    const problem = onnx.ModelProto.verify(model);
    if (problem) throw new Error(`invalid ONNX model: ${problem}`);
    return onnx.ModelProto.encode(model).finish();
  }
}

function toAttribute(
  name: string,
  value: AttributeValue,
): onnxTypes.IAttributeProto {
  const type = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return { name, type: type.INTS, ints: value };
  if (typeof value === "object") {
    return { name, type: type.FLOAT, f: value.float };
  }
  return { name, type: type.INT, i: value };
}

function toValueInfo(value: GraphValue): onnxTypes.IValueInfoProto {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[value.elemType],
        shape: {
          dim: value.dims.map((d) =>
            typeof d === "number" ? { dimValue: d } : { dimParam: d }
          ),
        },
      },
    },
  };
}
