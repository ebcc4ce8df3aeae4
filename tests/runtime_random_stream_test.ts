/**
 * One random stream type: lib/runtime's SeededRandom also draws lib/models' parameter-init and
 * dropout seeds. The words below are mulberry32's for these states; parameter init and the
 * model's dropout seeds have used exactly these numbers, so seeded models keep their weights.
 */
import assert from "node:assert/strict";
import { SeededRandom } from "../lib/runtime/random.ts";
import { BertConfig, BertModel } from "../lib/models/mod.ts";
import { DropoutSeeds } from "../lib/models/bert.ts";
import { useCpu } from "./train_toy_model.ts";

await useCpu();

const words = (rng: SeededRandom, n = 4) =>
  Array.from({ length: n }, () => rng.nextUint32());

Deno.test("SeededRandom.fromState(seed).nextUint32() gives mulberry32's words for that state", () => {
  assert.deepEqual(words(SeededRandom.fromState(42)), [
    2581720956,
    1925393290,
    3661312704,
    2876485805,
  ]);
  assert.deepEqual(words(SeededRandom.fromState(0)), [
    1144304738,
    1416247,
    958946056,
    627933444,
  ]);
  // -1 and 2^32 - 1 are the same 32-bit state.
  const high = [3850105811, 813802916, 3073704848, 4054706436];
  assert.deepEqual(words(SeededRandom.fromState(-1)), high);
  assert.deepEqual(words(SeededRandom.fromState(4294967295)), high);
  // next() is the same word scaled to [0, 1); the seeded constructor's stream is unchanged.
  const a = new SeededRandom(42), b = new SeededRandom(42);
  assert.equal(a.next(), b.nextUint32() / 4294967296);
  const c = new SeededRandom(42);
  assert.deepEqual([c.next(), c.next(), c.seed(), c.getState()], [
    0.24572046380490065,
    0.5754302670247853,
    764270688,
    761027759,
  ]);
  // fromState(getState()) continues exactly where a stream was.
  const d = new SeededRandom(7);
  d.next();
  const copy = SeededRandom.fromState(d.getState());
  assert.deepEqual(words(copy), words(d));
});

Deno.test("a model's dropout seeds are its SeededRandom stream from state seed ^ 0x5eed", () => {
  const seeds = new DropoutSeeds(42);
  assert.ok(seeds.random instanceof SeededRandom);
  assert.deepEqual(
    [seeds.take(), seeds.take(), seeds.take(), seeds.take()],
    [42965535, 317311419, 2209987175, 3322436052],
  );
  const state = seeds.random.getState();
  const next = seeds.take();
  seeds.random.setState(state);
  assert.equal(seeds.take(), next, "the stream's state is serializable");
});

Deno.test("parameter init: same seed, same weights; another seed, other weights", async () => {
  const config = new BertConfig({
    vocab_size: 64,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 16,
  });
  const weights = async (seed: number) => {
    const model = new BertModel(config, { seed });
    const name = "encoder.layer.0.attention.self.query.weight";
    const values = Array.from(
      await model.namedParameters().get(name)!.data(),
    );
    model.dispose();
    return values;
  };
  const first = await weights(7);
  assert.deepEqual(await weights(7), first);
  assert.notDeepEqual(await weights(8), first);
  assert.ok(first.some((v) => v !== 0));
});
