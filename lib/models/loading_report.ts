/**
 * The Korean `[알림]` notices of `fromPretrained`: which weights were newly initialized and which
 * checkpoint weights went unused, grouped (embeddings / encoder layers N-M / pooler / head), and
 * called normal only when nothing but head weights (and a pooler) is involved. A re-initialized
 * encoder or dropped layers get a warning that says so and what to check.
 */
import type { LoadingInfo } from "./checkpoint.ts";

type Part = "embeddings" | "encoder" | "pooler" | "head" | "other";

interface Grouped {
  embeddings: string[];
  /** layer index -> names */
  layers: Map<number, string[]>;
  pooler: string[];
  head: string[];
  other: string[];
}

const HEAD_PREFIX = /^(cls|classifier|qa_outputs)\./;

function partOf(name: string): { part: Part; layer?: number } {
  const bare = name.startsWith("bert.") ? name.slice(5) : name;
  if (bare.startsWith("embeddings.")) return { part: "embeddings" };
  const layer = bare.match(/^encoder\.layer\.(\d+)\./);
  if (layer) return { part: "encoder", layer: Number(layer[1]) };
  if (bare.startsWith("pooler.")) return { part: "pooler" };
  if (HEAD_PREFIX.test(name)) return { part: "head" };
  return { part: "other" };
}

function group(names: string[]): Grouped {
  const grouped: Grouped = {
    embeddings: [],
    layers: new Map(),
    pooler: [],
    head: [],
    other: [],
  };
  for (const name of names) {
    const { part, layer } = partOf(name);
    if (part === "encoder") {
      if (!grouped.layers.has(layer!)) grouped.layers.set(layer!, []);
      grouped.layers.get(layer!)!.push(name);
    } else grouped[part].push(name);
  }
  return grouped;
}

/** [0, 1, 2, 5] -> "0-2, 5" */
export function layerRanges(layers: number[]): string {
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  const ranges: string[] = [];
  let start = sorted[0];
  for (let i = 1; i <= sorted.length; i++) {
    if (sorted[i] !== sorted[i - 1] + 1) {
      const end = sorted[i - 1];
      ranges.push(start === end ? `${start}` : `${start}-${end}`);
      start = sorted[i];
    }
  }
  return ranges.join(", ");
}

function listNames(names: string[], max = 4): string {
  return names.length <= max
    ? names.join(", ")
    : `${names.slice(0, max).join(", ")} 외 ${names.length - max}개`;
}

/** "임베딩 (5개), 인코더 층 0-11 (192개), 풀러 (2개), 헤드 (classifier.weight, classifier.bias)" */
function describeGroups(g: Grouped): string {
  const parts: string[] = [];
  if (g.embeddings.length) parts.push(`임베딩 (${g.embeddings.length}개)`);
  if (g.layers.size) {
    const count = [...g.layers.values()].reduce((n, l) => n + l.length, 0);
    parts.push(`인코더 층 ${layerRanges([...g.layers.keys()])} (${count}개)`);
  }
  if (g.pooler.length) parts.push(`풀러 (${g.pooler.length}개)`);
  if (g.head.length) parts.push(`헤드 (${listNames(g.head)})`);
  if (g.other.length) parts.push(`기타 (${listNames(g.other)})`);
  return parts.join(", ");
}

function encoderParts(g: Grouped): string[] {
  const parts: string[] = [];
  if (g.embeddings.length) parts.push("임베딩");
  if (g.layers.size) {
    parts.push(`인코더 층 ${layerRanges([...g.layers.keys()])}`);
  }
  if (g.other.length) parts.push(`알 수 없는 가중치 (${listNames(g.other)})`);
  return parts;
}

/** Notice about weights that did not come from the checkpoint, or null when all did. */
export function newWeightsNotice(
  info: LoadingInfo,
  modelName: string,
  dir: string,
): string | null {
  const mismatched = info.mismatched_keys.map((m) => m.key);
  const newly = [...info.missing_keys, ...mismatched];
  if (!newly.length) return null;
  const g = group(newly);
  const lines = [
    `[알림] ${modelName}의 일부 가중치는 ${dir} 체크포인트에서 오지 않고 새로 초기화되었습니다: ${
      describeGroups(g)
    }`,
  ];
  if (info.mismatched_keys.length) {
    const shown = info.mismatched_keys.slice(0, 4).map((m) =>
      `${m.key} 체크포인트 [${m.checkpoint}] → 모델 [${m.model}]`
    ).join(", ");
    const more = info.mismatched_keys.length > 4
      ? ` 외 ${info.mismatched_keys.length - 4}개`
      : "";
    lines.push(
      `  크기가 달라 새로 만든 것 (ignore_mismatched_sizes): ${shown}${more}`,
    );
  }
  const encoder = encoderParts(g);
  if (encoder.length) {
    lines.push(
      `  ⚠️ ${
        g.head.length || g.pooler.length
          ? "헤드가 아닌 가중치도"
          : "인코더 가중치가"
      } 새로 초기화되었습니다: ${
        encoder.join(", ")
      }. 이 부분은 사전학습된 값이 아니라 무작위 값이라 사전학습의 효과가 없습니다.`,
      info.mismatched_keys.some((m) => partOf(m.key).part !== "head")
        ? "  config(vocab_size, hidden_size, intermediate_size, max_position_embeddings 등)를 체크포인트의 config.json과 같게 두세요. ignore_mismatched_sizes: true는 분류 헤드(num_labels)만 바꿀 때 쓰는 옵션입니다."
        : "  이 폴더가 맞는 BERT 체크포인트인지, 가중치 이름(bert.encoder.layer.0...)이 맞는지, num_hidden_layers 같은 config가 체크포인트와 같은지 확인하세요.",
    );
    return lines.join("\n");
  }
  if (g.pooler.length) {
    lines.push(
      "  풀러도 새로 초기화되었습니다: 풀러 없이 저장된 체크포인트(예: MLM 전용)라면 흔한 일이고, 헤드와 함께 파인튜닝됩니다.",
    );
  }
  lines.push(
    "  새 헤드라면 정상입니다. 다운스트림 태스크로 학습(파인튜닝)한 뒤 사용하세요.",
  );
  return lines.join("\n");
}

/** Notice about checkpoint weights the model did not use, or null when it used them all. */
export function unusedWeightsNotice(
  info: LoadingInfo,
  modelName: string,
  dir: string,
  numHiddenLayers: number,
): string | null {
  const unused = info.unexpected_keys;
  if (!unused.length) return null;
  const g = group(unused);
  const lines = [
    `[알림] ${dir} 체크포인트의 일부 가중치는 ${modelName}에서 쓰이지 않았습니다: ${
      describeGroups(g)
    }`,
  ];
  const dropped = [...g.layers.keys()];
  const deeper = dropped.filter((layer) => layer >= numHiddenLayers);
  if (deeper.length) {
    lines.push(
      `  ⚠️ 버려진 인코더 층: ${
        layerRanges(deeper)
      } (이 모델의 num_hidden_layers = ${numHiddenLayers}, 체크포인트의 층 ${
        Math.max(...dropped) + 1
      }개). 작은 모델로 일부러 줄인 것이 아니라면 fromPretrained에 num_hidden_layers를 주지 마세요.`,
    );
  }
  const strange = encoderParts({
    ...g,
    layers: new Map([...g.layers].filter(([layer]) => layer < numHiddenLayers)),
  });
  if (strange.length) {
    lines.push(
      `  ⚠️ 쓰이지 않은 인코더 가중치: ${
        strange.join(", ")
      }. 이름이 모델과 맞지 않는 체크포인트입니다. BERT 체크포인트인지, 같은 종류의 모델에서 저장했는지 확인하세요.`,
    );
  }
  if (!deeper.length && !strange.length) {
    lines.push(
      "  다른 헤드(예: 사전학습 MLM/NSP 헤드)로 저장된 체크포인트라면 정상입니다.",
    );
  }
  return lines.join("\n");
}
