export * from "./datasets.ts";
