export { AutoTokenizer, type TokenizerLoadOptions } from "./auto_tokenizer.ts";
export {
  type BatchEncoding,
  BertTokenizer,
  type Offset,
  type TokenizerCallOptions,
  type TruncationStrategy,
  type WordPieces,
} from "./bert_tokenizer.ts";
export { buildTokenizerJson, parseVocabTxt } from "./tokenizer_json.ts";
export { toNfc } from "./normalize.ts";
export {
  BERT_SPECIAL_TOKENS,
  trainWordPiece,
  type TrainWordPieceOptions,
  type TrainWordPieceResult,
} from "./train_wordpiece.ts";
export { defaultMaxLength } from "./truncation.ts";
