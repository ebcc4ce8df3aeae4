export * from "./runtime/mod.ts";
export * from "./hub/mod.ts";
export * from "./text/mod.ts";
export * from "./data/mod.ts";
export * from "./viz/mod.ts";
export * from "./models/mod.ts";
export * from "./models/onnx/mod.ts";
export * from "./train/mod.ts";
export * from "./pretrain/mod.ts";
export * from "./tasks/mod.ts";
// Notebooks import only @course/lib, so the tensor and DataFrame libraries come from here too,
// as the very instances the library uses.
export * as tf from "@tensorflow/tfjs-core";
export { default as pl } from "nodejs-polars";
// transformers.js (the library our tokenizer wraps): lesson 05 runs its pipeline() on our ONNX export.
export * as transformersjs from "@huggingface/transformers";
export * from "./exercises/mod.ts";
