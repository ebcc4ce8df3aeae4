export * from "./runtime/mod.ts";
export * from "./hub/mod.ts";
export * from "./viz/mod.ts";
export * from "./models/mod.ts";
