/** What the pretraining and course-model tests share: the course tokenizer, tiny documents, a tiny model. */
import { join } from "node:path";
import {
  PRETRAIN_DEFAULTS,
  type PretrainOptions,
} from "../lib/pretrain/mod.ts";
import { REPO_ROOT } from "./test_paths.ts";

export const COURSE_TOKENIZER_DIR = join(REPO_ROOT, "models", "ko-mini-bert");

/** Short Korean documents (sentences in order): reviews and a news comment, NFC. */
export const SHORT_DOCUMENTS: string[][] = [
  [
    "이 영화 정말 재미있어요.",
    "배우들 연기가 최고였습니다.",
    "다시 보고 싶네요.",
  ],
  ["스토리가 너무 지루했다.", "음악만 좋았다."],
  ["드라마 결말이 아쉽네요.", "주인공이 불쌍해요.", "작가님 힘내세요."],
  ["연기가 어색해서 몰입이 안 돼요.", "그래도 끝까지 봤습니다."],
  ["오늘 뉴스 제목이 자극적이네요.", "기자님 사실 확인 좀 하세요."],
  ["가족과 함께 보기 좋은 영화입니다.", "아이들이 좋아했어요."],
].map((sentences) => sentences.map((s) => s.normalize("NFC")));

/** Pretraining options of a 1-layer, hidden-32 BERT that trains a step in milliseconds. */
export const TINY_PRETRAIN: PretrainOptions = {
  ...PRETRAIN_DEFAULTS,
  tokenizerDir: COURSE_TOKENIZER_DIR,
  hidden: 32,
  layers: 1,
  heads: 2,
  intermediate: 64,
  batchSize: 8,
  logSteps: 2,
  evalSteps: 1000,
  evalExamples: 16,
  learningRate: 3e-3,
  warmupRatio: 0,
  quiet: true,
};
