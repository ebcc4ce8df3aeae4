/**
 * The ONNX protobuf schema, from the `onnx-proto` package (protobufjs static
 * code generated from the official onnx.proto, ONNX v1.10.2 = IR version 8).
 * It is a CommonJS module whose export is assigned at run time, so Deno sees
 * only a default export: we pick the `onnx` namespace off it once, here.
 */
import onnxProtoModule from "onnx-proto";
import type { onnx as OnnxNamespace } from "onnx-proto";

export const onnx = (onnxProtoModule as unknown as {
  onnx: typeof OnnxNamespace;
}).onnx;
export type { OnnxNamespace as onnxTypes };
