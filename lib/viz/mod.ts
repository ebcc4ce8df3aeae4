export * from "./jupyter.ts";
export * from "./plotly.ts";
export * from "./table.ts";
export * from "./progress.ts";
export * from "./curves.ts";
