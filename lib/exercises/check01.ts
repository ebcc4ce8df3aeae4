/**
 * Checks for lesson 01 (BERT와 사전학습). Nothing is a written answer: the check recomputes what
 * the learner computed (the course model's masked-LM probabilities with and without the right
 * context, the pretraining loss on random tensors) or measures the learner's function
 * statistically on real Korean sentences (80/10/10 masking, 50/50 NSP pairs).
 */
import * as tf from "@tensorflow/tfjs-core";
import { AutoTokenizer, type BertTokenizer } from "../text/mod.ts";
import { initBackend, SeededRandom } from "../runtime/mod.ts";
import { BertForMaskedLM, crossEntropy } from "../models/mod.ts";
import { makeCheck, missingFields, ordinal, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

// ---- 01-1: both sides vs left only -------------------------------------------------------------

/**
 * Sentence and word per case, chosen by measuring the course model (ko-mini-bert v2): in the
 * first the left context "이 영화는" leaves the word open and the right context decides it
 * (rank 1 with both sides, past 1000 with the left only); in the second the left context
 * "시간이" already makes the word the top guess. The check never assumes which way a case goes:
 * it recomputes both probabilities with the model.
 */
const CONTEXT_CASES = [
  { sentence: "이 영화는 내 인생 최고의 영화다.", word: "내" },
  { sentence: "시간이 아깝다 돈이 아깝다", word: "아깝다" },
];

export interface ContextEffect {
  /** P(original first piece) at [MASK] with the whole sentence visible. */
  bothProb: number;
  /** 1 + number of vocabulary tokens with a higher probability (1 = top guess). */
  bothRank: number;
  /** The same with only `[CLS] ... [MASK] [SEP]` (everything right of the mask removed). */
  leftProb: number;
  leftRank: number;
  /** Did the right context raise the probability of the original word? (bothProb > leftProb) */
  rightContextHelped: boolean;
}

interface MaskedProbe {
  ids: number[];
  position: number;
  target: number;
}

/** The lesson's maskWord: every piece of the word becomes [MASK]; the first piece is predicted. */
function maskWord(
  tokenizer: BertTokenizer,
  sentence: string,
  word: string,
): { both: MaskedProbe; left: MaskedProbe; leftNoSep: MaskedProbe } {
  const ids = tokenizer.encode(sentence);
  const wordIds = tokenizer.encode(word).slice(1, -1);
  const position = ids.findIndex((_, i) =>
    wordIds.every((w, j) => ids[i + j] === w)
  );
  if (position < 0) {
    throw new Error(`"${word}" is not a run of pieces in "${sentence}"`);
  }
  const masked = ids.map((id, i) =>
    i >= position && i < position + wordIds.length ? tokenizer.maskTokenId : id
  );
  const target = ids[position];
  const leftIds = masked.slice(0, position + 1);
  return {
    both: { ids: masked, position, target },
    left: { ids: [...leftIds, tokenizer.sepTokenId], position, target },
    leftNoSep: { ids: leftIds, position, target },
  };
}

interface Measured {
  prob: number;
  /** Ranks a learner's own softmax may give: ties within 0.1% of the target count either way. */
  rankRange: [number, number];
}

function measure(model: BertForMaskedLM, probe: MaskedProbe): Measured {
  const probs = tf.tidy(() => {
    const logits = model.forward({
      input_ids: tf.tensor2d([probe.ids], undefined, "int32"),
    }).logits as tf.Tensor3D;
    const row = logits.slice([0, probe.position, 0], [1, 1, logits.shape[2]]);
    return tf.softmax(row.reshape([-1])).dataSync();
  });
  const prob = probs[probe.target];
  let above = 0, aboveOrTied = 0;
  for (const p of probs) {
    if (p > prob * (1 + 1e-3)) above++;
    if (p > prob * (1 - 1e-3)) aboveOrTied++;
  }
  // aboveOrTied counts the target itself.
  return { prob, rankRange: [above + 1, Math.max(above + 1, aboveOrTied)] };
}

function closeProb(got: number, want: number): boolean {
  return Math.abs(got - want) <= 1e-3 * want + 1e-7;
}

function inRange(got: number, [low, high]: [number, number]): boolean {
  return got >= low && got <= high;
}

/** What is wrong with one case; a rank or the verdict is judged only once its numbers are right. */
function contextProblems(
  model: BertForMaskedLM,
  probes: ReturnType<typeof maskWord>,
  got: ContextEffect,
  at: string,
): string[] {
  const both = measure(model, probes.both);
  const left = measure(model, probes.left);
  const numbers = [got.bothProb, got.bothRank, got.leftProb, got.leftRank];
  if (numbers.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
    return [`${at}: 확률과 순위는 숫자여야 합니다.`];
  }
  if ([got.bothProb, got.leftProb].some((p) => p < 0 || p > 1)) {
    return [
      `${at}: 확률은 0과 1 사이입니다. logit에 tf.softmax를 적용해 확률로 바꾸세요.`,
    ];
  }
  const bothRight = closeProb(got.bothProb, both.prob);
  const leftRight = closeProb(got.leftProb, left.prob);
  if (
    !bothRight && !leftRight && closeProb(got.bothProb, left.prob) &&
    closeProb(got.leftProb, both.prob)
  ) {
    return [`${at}: bothProb와 leftProb가 서로 바뀌었습니다.`];
  }
  const problems: string[] = [];
  if (!bothRight) {
    problems.push(
      `${at}: bothProb가 코스 모델로 다시 계산한 값과 다릅니다. 단어의 조각을 모두 [MASK]로 바꾼 문장 전체([CLS] ... [SEP])를 넣고, [MASK] 위치(첫 조각)에서 원래 토큰의 확률을 읽었는지 확인하세요.`,
    );
  }
  if (!leftRight) {
    const noSep = measure(model, probes.leftNoSep);
    problems.push(
      closeProb(got.leftProb, noSep.prob)
        ? `${at}: leftProb의 입력 끝에 [SEP]가 빠졌습니다. 왼쪽만 보는 입력은 [CLS] ... [MASK] [SEP]입니다.`
        : `${at}: leftProb가 다시 계산한 값과 다릅니다. [MASK] 오른쪽 토큰을 모두 지우고 [SEP] 하나만 남긴 입력인지 확인하세요.`,
    );
  }
  const ranks = [
    ["bothRank", got.bothRank, both.rankRange, bothRight],
    ["leftRank", got.leftRank, left.rankRange, leftRight],
  ] as const;
  for (const [name, rank, range, probRight] of ranks) {
    if (!probRight || inRange(rank, range)) continue;
    problems.push(
      inRange(rank + 1, range)
        ? `${at}: ${name}는 1부터 셉니다 (가장 확률이 높은 토큰이 1위).`
        : `${at}: ${name}가 다릅니다. 원래 토큰보다 확률이 높은 어휘 토큰 수 + 1입니다.`,
    );
  }
  if (typeof got.rightContextHelped !== "boolean") {
    problems.push(`${at}: rightContextHelped는 true 또는 false입니다.`);
  } else if (
    bothRight && leftRight &&
    got.rightContextHelped !== (both.prob > left.prob)
  ) {
    problems.push(
      `${at}: rightContextHelped가 직접 구한 bothProb와 leftProb와 맞지 않습니다. 오른쪽 문맥을 더했을 때 정답 확률이 올라갔나요?`,
    );
  }
  return problems;
}

async function evaluateContext(answer: ContextEffect[]) {
  const question = "01-1 양방향 문맥과 왼쪽 문맥";
  if (!Array.isArray(answer) || answer.length !== CONTEXT_CASES.length) {
    return result(question, [
      `check01.data.contextCases의 문장마다 결과 하나씩, ${CONTEXT_CASES.length}개짜리 배열을 넘겨 주세요.`,
    ]);
  }
  const fields = [
    "bothProb",
    "bothRank",
    "leftProb",
    "leftRank",
    "rightContextHelped",
  ];
  for (const [i, item] of answer.entries()) {
    const missing = missingFields(item, fields);
    if (missing.length > 0) {
      return result(question, missing.map((m) => `${ordinal(i)} 문장: ${m}`));
    }
  }
  await initBackend();
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const model = await BertForMaskedLM.fromPretrained(courseModelDir(), {
    verbose: false,
  });
  const problems: string[] = [];
  try {
    for (const [i, { sentence, word }] of CONTEXT_CASES.entries()) {
      const found = contextProblems(
        model,
        maskWord(tokenizer, sentence, word),
        answer[i],
        `${ordinal(i)} 문장("${word}")`,
      );
      problems.push(...found);
      // The first case that goes wrong is enough to start fixing.
      if (found.length > 0) break;
    }
  } finally {
    model.dispose();
  }
  return result(question, problems);
}

// ---- 01-2: the pretraining loss ----------------------------------------------------------------

export interface PretrainingOutputs {
  prediction_logits: tf.Tensor3D;
  seq_relationship_logits: tf.Tensor2D;
}

export interface PretrainingTargets {
  /** Original token id at the chosen positions, -100 everywhere else. */
  labels: tf.Tensor2D;
  /** 0 = IsNext, 1 = NotNext. */
  next_sentence_label: tf.Tensor1D;
}

export type PretrainingLoss = (
  outputs: PretrainingOutputs,
  targets: PretrainingTargets,
) => tf.Scalar | number;

interface LossCase {
  outputs: PretrainingOutputs;
  targets: PretrainingTargets;
  /** The library's loss (HF BertForPreTraining) and the usual wrong ways, for the hints. */
  want: number;
  variants: { name: string; value: number; hint: string }[];
}

/**
 * Random logits and labels: batch 3 x length 8 over a 30-token vocabulary; the middle row has
 * no chosen position at all (all -100), as a short sequence often has, so a mean over rows and
 * a mean over chosen positions differ.
 */
function lossCase(seed: number): LossCase {
  const rng = new SeededRandom(seed);
  const [batch, length, vocab] = [3, 8, 30];
  const logits = Array.from(
    { length: batch * length * vocab },
    () => rng.normal(0, 2),
  );
  const labels = Array.from({ length: batch * length }, (_, i) => {
    const row = Math.floor(i / length);
    const first = i % length === 1; // every row but the middle one has a chosen position
    if (row === 1) return -100;
    return first || rng.next() < 0.35 ? rng.int(vocab) : -100;
  });
  const nspLogits = Array.from({ length: batch * 2 }, () => rng.normal(0, 2));
  const nspLabels = Array.from({ length: batch }, () => rng.int(2));
  const outputs = {
    prediction_logits: tf.tensor3d(logits, [batch, length, vocab]),
    seq_relationship_logits: tf.tensor2d(nspLogits, [batch, 2]),
  };
  const targets = {
    labels: tf.tensor2d(labels, [batch, length], "int32"),
    next_sentence_label: tf.tensor1d(nspLabels, "int32"),
  };
  const read = (t: tf.Scalar) => {
    const v = t.dataSync()[0];
    t.dispose();
    return v;
  };
  const mlm = read(crossEntropy(outputs.prediction_logits, targets.labels));
  const nsp = read(
    crossEntropy(outputs.seq_relationship_logits, targets.next_sentence_label),
  );
  const chosen = labels.filter((l) => l !== -100).length;
  const rowMeans = [0, 2].map((row) =>
    read(tf.tidy(() =>
      crossEntropy(
        outputs.prediction_logits.slice([row, 0, 0], [1, length, vocab]),
        targets.labels.slice([row, 0], [1, length]),
      )
    ))
  );
  const perRow = (rowMeans[0] + rowMeans[1]) / 2;
  return {
    outputs,
    targets,
    want: mlm + nsp,
    variants: [
      {
        name: "all positions",
        value: (mlm * chosen) / (batch * length) + nsp,
        hint:
          "MLM 손실을 모든 위치 수로 나눈 것 같습니다. label이 -100이 아닌(고른) 위치의 수로 나누세요.",
      },
      {
        name: "per row",
        value: perRow + nsp,
        hint:
          "문장마다 평균을 낸 뒤 다시 평균한 것 같습니다. 배치 전체에서 고른 위치들의 평균을 내세요.",
      },
      {
        name: "mlm only",
        value: mlm,
        hint: "NSP 손실(seq_relationship_logits의 교차 엔트로피)을 더하세요.",
      },
      {
        name: "nsp only",
        value: nsp,
        hint: "MLM 손실(prediction_logits의 교차 엔트로피)이 빠졌습니다.",
      },
      {
        name: "halved",
        value: (mlm + nsp) / 2,
        hint: "두 손실은 평균이 아니라 합입니다.",
      },
    ],
  };
}

function disposeCase(c: LossCase) {
  tf.dispose([...Object.values(c.outputs), ...Object.values(c.targets)]);
}

function close(got: number, want: number): boolean {
  return Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want));
}

async function evaluateLoss(pretrainingLoss: PretrainingLoss) {
  const question = "01-2 MLM과 NSP 손실";
  if (typeof pretrainingLoss !== "function") {
    return result(question, ["pretrainingLoss 함수를 넘겨 주세요."]);
  }
  if (/crossEntropy/.test(String(pretrainingLoss))) {
    return result(question, [
      "라이브러리의 crossEntropy를 호출하지 말고 tf.logSoftmax 같은 tf 연산으로 직접 계산하세요.",
    ]);
  }
  await initBackend();
  const problems = new Set<string>();
  for (const seed of [5, 17]) {
    const c = lossCase(seed);
    try {
      const out = pretrainingLoss(c.outputs, c.targets);
      let got: number;
      if (typeof out === "number") got = out;
      else if (out instanceof tf.Tensor && out.size === 1) {
        got = (await out.data())[0];
        out.dispose();
      } else {
        problems.add("스칼라 텐서(tf.Scalar) 또는 숫자 하나를 돌려주세요.");
        break;
      }
      if (!Number.isFinite(got)) {
        problems.add(
          "손실이 NaN이나 Infinity입니다. label -100인 위치를 계산에서 빼고, log(0)이 나오지 않게 tf.logSoftmax를 쓰세요.",
        );
      } else if (!close(got, c.want)) {
        const variant = c.variants.find((v) => close(got, v.value));
        problems.add(
          variant?.hint ??
            "손실이 Hugging Face BertForPreTraining의 손실(고른 위치만의 MLM 교차 엔트로피 평균 + NSP 교차 엔트로피 평균)과 다릅니다.",
        );
      }
    } finally {
      disposeCase(c);
    }
  }
  return result(question, [...problems]);
}

// ---- 01-4: NSP pairs ---------------------------------------------------------------------------

/** Small "documents" (sentences in order); no sentence appears twice, so B tells where it came from. */
const NSP_DOCUMENTS = [
  [
    "어제 친구와 극장에 갔다.",
    "예매해 둔 영화가 벌써 시작하고 있었다.",
    "서둘러 자리를 찾아 앉았다.",
  ],
  [
    "이 식당은 김치찌개가 유명하다.",
    "점심시간에는 줄이 길게 늘어선다.",
    "기다린 보람이 있을 만큼 맛있었다.",
  ],
  [
    "주말 내내 비가 내렸다.",
    "그래서 집에서 책을 읽었다.",
    "오랜만에 마음이 편안했다.",
  ],
  [
    "새 노트북을 샀다.",
    "배터리가 하루 종일 간다.",
    "화면이 밝아서 밖에서도 잘 보인다.",
  ],
  [
    "아침마다 공원을 달린다.",
    "처음에는 1킬로미터도 힘들었다.",
    "지금은 5킬로미터를 쉬지 않고 달린다.",
  ],
  [
    "고양이가 창가에 앉아 있다.",
    "햇볕을 쬐며 졸고 있다.",
    "가끔 지나가는 새를 쳐다본다.",
  ],
  [
    "시험이 다음 주로 다가왔다.",
    "도서관은 늦게까지 학생들로 붐빈다.",
    "나도 오늘은 밤늦게까지 공부할 생각이다.",
  ],
  [
    "배송이 하루 만에 왔다.",
    "포장이 꼼꼼해서 상자가 멀쩡했다.",
    "다음에도 여기서 주문하겠다.",
  ],
];

export interface NspPair {
  a: string;
  b: string;
  /** Hugging Face convention: 0 = IsNext (B really follows A), 1 = NotNext (B from another document). */
  next_sentence_label: number;
}

export type MakeNspPair = (
  documents: string[][],
  docIndex: number,
  sentenceIndex: number,
  rng: SeededRandom,
) => NspPair;

interface NspTally {
  pairs: number;
  isNext: number;
  /** Per source document: the other documents a NotNext B came from. */
  sources: Set<number>[];
  signature: string;
  problems: Set<string>;
}

function tallyNsp(
  makePair: MakeNspPair,
  seed: number,
  repeats: number,
): NspTally {
  const documents = NSP_DOCUMENTS.map((d) => [...d]);
  const snapshot = JSON.stringify(documents);
  const home = new Map<string, number>();
  documents.forEach((d, i) => d.forEach((s) => home.set(s, i)));
  const tally: NspTally = {
    pairs: 0,
    isNext: 0,
    sources: documents.map(() => new Set<number>()),
    signature: "",
    problems: new Set(),
  };
  const rng = new SeededRandom(seed);
  const labels: number[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const [d, doc] of documents.entries()) {
      for (let s = 0; s + 1 < doc.length; s++) {
        const pair = makePair(documents, d, s, rng);
        if (!pair || typeof pair.a !== "string" || typeof pair.b !== "string") {
          tally.problems.add(
            "{ a, b, next_sentence_label } 객체를 돌려주어야 합니다 (a와 b는 문장 문자열).",
          );
          return tally;
        }
        tally.pairs++;
        labels.push(pair.next_sentence_label);
        if (pair.a !== doc[s]) {
          tally.problems.add(
            "a는 documents[docIndex][sentenceIndex] 문장이어야 합니다.",
          );
        }
        const from = home.get(pair.b);
        if (pair.next_sentence_label === 0) {
          tally.isNext++;
          if (pair.b !== doc[s + 1]) {
            tally.problems.add(
              from !== undefined && from !== d && pair.b !== doc[s + 1]
                ? "label 0(IsNext)인 쌍의 B가 다른 문서의 문장입니다. Hugging Face 규칙은 0 = IsNext, 1 = NotNext입니다."
                : "label 0(IsNext)이면 b는 같은 문서에서 a 바로 다음 문장이어야 합니다.",
            );
          }
        } else if (pair.next_sentence_label === 1) {
          if (from === undefined) {
            tally.problems.add(
              "label 1(NotNext)의 b는 다른 문서에 있는 문장 하나여야 합니다.",
            );
          } else if (from === d) {
            tally.problems.add(
              pair.b === doc[s + 1]
                ? "label 1(NotNext)인 쌍의 B가 실제 다음 문장입니다. Hugging Face 규칙은 0 = IsNext, 1 = NotNext입니다."
                : "label 1(NotNext)의 b를 같은 문서에서 골랐습니다. 무작위 문장은 다른 문서에서 골라야 실제로 '다음이 아닌' 문장이 됩니다.",
            );
          } else {
            tally.sources[d].add(from);
          }
        } else {
          tally.problems.add("next_sentence_label은 0 또는 1이어야 합니다.");
        }
      }
    }
  }
  if (JSON.stringify(documents) !== snapshot) {
    tally.problems.add("documents 배열을 바꾸면 안 됩니다.");
  }
  tally.signature = labels.join("");
  return tally;
}

function evaluateNsp(makePair: MakeNspPair) {
  const question = "01-4 NSP 문장 쌍";
  if (typeof makePair !== "function") {
    return result(question, ["makeNspPair 함수를 넘겨 주세요."]);
  }
  const tally = tallyNsp(makePair, 2024, 250);
  const problems = [...tally.problems];
  if (problems.length === 0) {
    const share = tally.isNext / tally.pairs;
    if (Math.abs(share - 0.5) > 0.035) {
      problems.push(
        `IsNext 비율이 ${
          (share * 100).toFixed(1)
        }%입니다. 절반은 실제 다음 문장, 절반은 무작위 문장이어야 합니다.`,
      );
    }
    const narrow = tally.sources.findIndex((s) => s.size < 3);
    if (narrow >= 0) {
      problems.push(
        `${
          ordinal(narrow)
        } 문서의 NotNext 문장이 늘 같은 몇 문서에서만 나옵니다. 다른 문서 전체에서 무작위로 고르세요.`,
      );
    }
    const seeded = seedProblem((seed) => tallyNsp(makePair, seed, 3).signature);
    if (seeded) problems.push(seeded);
  }
  return result(question, problems);
}

// ---- 01-3: 80/10/10 masking --------------------------------------------------------------------

/** Real Korean sentences for the masking check: varied lengths, Hangul, digits, Latin letters. */
const MASKING_SENTENCES = [
  "나는 은행에 가서 돈을 찾았다.",
  "이 영화 정말 재미있어요 배우들 연기가 최고!",
  "오늘 서울은 맑고 낮 기온이 25도까지 오르겠습니다.",
  "BERT는 양방향 트랜스포머 인코더로 사전학습된 언어 모델이다.",
  "주말에 친구들과 한강에서 자전거를 탔다.",
  "스토리가 너무 뻔해서 중간에 졸았네요.",
  "정부는 내년 예산안을 국회에 제출했다.",
  "고양이가 창가에 앉아 햇볕을 쬐고 있다.",
  "이 식당은 김치찌개가 맛있기로 유명하다.",
  "시험이 끝나면 제주도로 여행을 떠날 예정이다.",
  "배송이 빠르고 포장도 꼼꼼해서 만족합니다.",
  "그는 매일 아침 6시에 일어나 운동을 한다.",
];

type MaskFunction = (
  inputIds: number[],
  tokenizer: BertTokenizer,
  rng: SeededRandom,
) => { input_ids: number[]; labels: number[] };

interface MaskingTally {
  tokens: number;
  selected: number;
  masked: number;
  randomized: number;
  kept: number;
  /** Every output, in order: two runs agree exactly when the function is deterministic. */
  signature: string;
  problems: Set<string>;
}

function tallyMasking(
  maskFn: MaskFunction,
  sequences: number[][],
  tokenizer: BertTokenizer,
  seed: number,
  repeats: number,
): MaskingTally {
  const special = new Set([
    tokenizer.clsTokenId,
    tokenizer.sepTokenId,
    tokenizer.padTokenId,
  ]);
  const tally: MaskingTally = {
    tokens: 0,
    selected: 0,
    masked: 0,
    randomized: 0,
    kept: 0,
    signature: "",
    problems: new Set(),
  };
  const rng = new SeededRandom(seed);
  const outputs: string[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const ids of sequences) {
      const original = [...ids];
      const out = maskFn(ids, tokenizer, rng);
      if (ids.some((id, i) => id !== original[i])) {
        tally.problems.add(
          "입력 배열을 직접 바꾸면 안 됩니다. 복사본을 만들어 바꾸세요.",
        );
      }
      if (!out || !Array.isArray(out.input_ids) || !Array.isArray(out.labels)) {
        tally.problems.add(
          "{ input_ids, labels } 두 배열을 돌려주어야 합니다.",
        );
        return tally;
      }
      if (
        out.input_ids.length !== original.length ||
        out.labels.length !== original.length
      ) {
        tally.problems.add("input_ids와 labels의 길이는 입력과 같아야 합니다.");
        return tally;
      }
      outputs.push(`${out.input_ids.join(",")}/${out.labels.join(",")}`);
      original.forEach((id, i) => {
        const label = out.labels[i];
        const now = out.input_ids[i];
        if (special.has(id)) {
          if (label !== -100 || now !== id) {
            tally.problems.add(
              "[CLS], [SEP], [PAD] 같은 특수 토큰은 가리지 말아야 합니다.",
            );
          }
          return;
        }
        tally.tokens++;
        if (label === -100) {
          if (now !== id) {
            tally.problems.add(
              "선택되지 않은 토큰(label -100)은 그대로 두어야 합니다.",
            );
          }
          return;
        }
        if (label !== id) {
          tally.problems.add(
            "선택된 위치의 label은 원래 토큰 id여야 합니다 (모델이 맞혀야 할 정답).",
          );
        }
        tally.selected++;
        if (now === tokenizer.maskTokenId) tally.masked++;
        else if (now === id) tally.kept++;
        else tally.randomized++;
      });
    }
  }
  tally.signature = outputs.join(";");
  return tally;
}

function rateProblem(
  name: string,
  got: number,
  want: number,
  tolerance: number,
): string | null {
  if (Math.abs(got - want) <= tolerance) return null;
  return `${name} 비율이 ${
    (got * 100).toFixed(1)
  }%로 기대와 다릅니다. 확률 설정을 다시 보세요.`;
}

/**
 * Whether a learner's random function uses the `rng` it is given: the same seed must repeat the
 * whole output, another seed must change it. Whole outputs, not counts: two unseeded runs can
 * agree on counts by chance.
 */
function seedProblem(outputFor: (seed: number) => string): string | null {
  const first = outputFor(2024);
  if (outputFor(2024) !== first) {
    return "같은 시드의 rng로 다시 실행하면 같은 결과가 나와야 합니다. Math.random 대신 rng를 쓰세요.";
  }
  if (outputFor(7) === first) {
    return "rng가 달라도 결과가 똑같습니다. 무작위 선택에 rng를 쓰세요.";
  }
  return null;
}

async function evaluateMasking(maskFn: MaskFunction) {
  const question = "01-3 80/10/10 마스킹";
  if (typeof maskFn !== "function") {
    return result(question, ["마스킹 함수를 넘겨 주세요."]);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const sequences = MASKING_SENTENCES.map((s) => tokenizer.encode(s));
  const tally = tallyMasking(maskFn, sequences, tokenizer, 2024, 300);
  const problems = [...tally.problems];
  if (problems.length === 0 && tally.selected === 0) {
    problems.push("아무 토큰도 선택되지 않았습니다.");
  } else if (problems.length === 0) {
    const seeded = seedProblem((seed) =>
      tallyMasking(maskFn, sequences, tokenizer, seed, 3).signature
    );
    if (seeded) problems.push(seeded);
    const checks = [
      rateProblem("선택된 토큰", tally.selected / tally.tokens, 0.15, 0.012),
      rateProblem(
        "[MASK]로 바뀐 토큰",
        tally.masked / tally.selected,
        0.8,
        0.03,
      ),
      rateProblem(
        "무작위 토큰으로 바뀐 토큰",
        tally.randomized / tally.selected,
        0.1,
        0.025,
      ),
      rateProblem("그대로 둔 토큰", tally.kept / tally.selected, 0.1, 0.025),
    ];
    problems.push(...checks.filter((p): p is string => p !== null));
  }
  return result(question, problems);
}

export const check01 = {
  q1: makeCheck("01-1 양방향 문맥과 왼쪽 문맥", evaluateContext),
  q2: makeCheck("01-2 MLM과 NSP 손실", evaluateLoss),
  q3: makeCheck("01-3 80/10/10 마스킹", evaluateMasking),
  q4: makeCheck("01-4 NSP 문장 쌍", evaluateNsp),
  data: {
    /** q1: mask `word` in `sentence` and compare both sides with the left context only. */
    contextCases: CONTEXT_CASES,
    /** q3: sentences the masking check uses, so learners can try their function on the same text. */
    maskingSentences: MASKING_SENTENCES,
    /** q4: the documents the NSP check draws pairs from. */
    nspDocuments: NSP_DOCUMENTS,
  },
};
