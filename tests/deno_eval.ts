/**
 * Runs a TypeScript snippet in a child Deno process, for what a test process cannot do to itself:
 * `deno test` ends on SIGINT, so the Interrupt tests send it to a child. Fails the test when the
 * child fails, with its stderr; returns its stdout.
 */
import assert from "node:assert/strict";

export async function denoEval(script: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}
