export * from "./jupyter.ts";
export * from "./plotly.ts";
export * from "./table.ts";
export * from "./curves.ts";
