/** The Python the benchmarks run PyTorch with, found once: the first of COURSE_PYTHON, .venv, python3 that imports torch and transformers. */
let found: string | null | undefined;

export function torchPython(): string | undefined {
  if (found === undefined) {
    found = [
      Deno.env.get("COURSE_PYTHON"),
      new URL("../../.venv/bin/python", import.meta.url).pathname,
      "python3",
    ].find((python) => {
      if (!python) return false;
      try {
        return new Deno.Command(python, {
          args: ["-c", "import torch, transformers"],
          stdout: "null",
          stderr: "null",
        }).outputSync().success;
      } catch {
        return false;
      }
    }) ?? null;
  }
  return found ?? undefined;
}
