import { LID176_LABELS } from "./lid176.js";

/**
 * Pipeline files: the public, versioned format (DESIGN.md, "User-facing file formats").
 * Every step is named by a stable snake_case name; each parameter is declared here once with its
 * type, bounds and default, so validation, defaults and docs come from the same table.
 */
export const PIPELINE_FORMAT_VERSION = 1;

type ParamType = "integer" | "number" | "boolean" | "string" | "string_list";

export interface ParamSpec {
  type: ParamType;
  default: unknown;
  doc: string;
  min?: number;
  max?: number;
  enum?: readonly string[];
  /** For integers: the only values allowed (e.g. 32 or 64 bits). */
  oneOf?: readonly number[];
  /** Must be given (and, for strings, non-empty): there is no sensible default. */
  required?: boolean;
}

export interface StepSpec {
  doc: string;
  params: Record<string, ParamSpec>;
  /** Pairs of bounds [lower, upper] that must not cross; `zeroDisables`: a 0 upper bound turns its rule off. */
  ordered?: readonly { lower: string; upper: string; zeroDisables?: boolean }[];
}

/** Longest string parameter and longest list accepted: pipelines are small documents, not payloads. */
export const MAX_PARAM_STRING = 1024;
export const MAX_PARAM_LIST = 10_000;

export const STEP_CATALOG = {
  normalize: {
    doc: "Unicode normalization and whitespace clean-up. Never drops a document.",
    params: {
      form: { type: "string", enum: ["NFC", "NFKC", "NFD", "NFKD"], default: "NFC", doc: "Unicode normalization form." },
      strip: { type: "boolean", default: true, doc: "Trim leading and trailing whitespace." },
      collapse_blank_lines: {
        type: "boolean",
        default: false,
        doc: "Collapse runs of three or more newlines into two.",
      },
    },
  },
  length: {
    doc: "Drops documents whose text is shorter or longer than the bounds (in Unicode code points and whitespace-separated words).",
    params: {
      min_chars: { type: "integer", min: 0, default: 1, doc: "Minimum length in code points; shorter → `length:too_short`." },
      max_chars: {
        type: "integer",
        min: 1,
        default: 1_000_000,
        doc: "Maximum length in code points; longer → `length:too_long`.",
      },
      min_words: { type: "integer", min: 0, default: 0, doc: "Minimum whitespace-separated words; fewer → `length:too_few_words`." },
    },
    ordered: [{ lower: "min_chars", upper: "max_chars" }],
  },
  language_id: {
    doc: "fastText lid.176 language identification (the model datatrove's LanguageFilter uses, shipped in the npm package fasttext.wasm.js). Stores `language` and `language_score` on the document (shard `meta.fields`); drops documents whose score for every allowed language is ≤ min_score (`language_id:not_allowed`).",
    params: {
      languages: {
        type: "string_list",
        enum: LID176_LABELS,
        default: ["en"],
        doc: "Allowed languages (lid.176 labels: ISO 639-1 where one exists, e.g. en, de, fr). An empty list keeps any language whose top score is above min_score.",
      },
      min_score: { type: "number", min: 0, max: 1, default: 0.65, doc: "A document is kept when an allowed language scores above this (datatrove: language_threshold)." },
    },
  },
  gopher_repetition: {
    doc: "Gopher repetition rules (Rae et al. 2021, table A1) exactly as datatrove's GopherRepetitionFilter; words are spaCy `blank(\"en\")` tokens. A fraction of 0 disables the line/paragraph rules.",
    params: {
      dup_line_frac: { type: "number", min: 0, max: 1, default: 0.3, doc: "Max share of duplicated lines (`dup_line_frac`)." },
      dup_para_frac: { type: "number", min: 0, max: 1, default: 0.3, doc: "Max share of duplicated paragraphs (`dup_para_frac`)." },
      dup_line_char_frac: { type: "number", min: 0, max: 1, default: 0.2, doc: "Max share of characters in duplicated lines (`dup_line_char_frac`)." },
      dup_para_char_frac: { type: "number", min: 0, max: 1, default: 0.2, doc: "Max share of characters in duplicated paragraphs (`dup_para_char_frac`)." },
      top_2_gram_frac: { type: "number", min: 0, max: 1, default: 0.2, doc: "Max character share of the most frequent word 2-gram (`top_2_gram`)." },
      top_3_gram_frac: { type: "number", min: 0, max: 1, default: 0.18, doc: "Same for 3-grams (`top_3_gram`)." },
      top_4_gram_frac: { type: "number", min: 0, max: 1, default: 0.16, doc: "Same for 4-grams (`top_4_gram`)." },
      dup_5_gram_frac: { type: "number", min: 0, max: 1, default: 0.15, doc: "Max character share of duplicated 5-grams (`duplicated_5_n_grams`)." },
      dup_6_gram_frac: { type: "number", min: 0, max: 1, default: 0.14, doc: "Same for 6-grams." },
      dup_7_gram_frac: { type: "number", min: 0, max: 1, default: 0.13, doc: "Same for 7-grams." },
      dup_8_gram_frac: { type: "number", min: 0, max: 1, default: 0.12, doc: "Same for 8-grams." },
      dup_9_gram_frac: { type: "number", min: 0, max: 1, default: 0.11, doc: "Same for 9-grams." },
      dup_10_gram_frac: { type: "number", min: 0, max: 1, default: 0.1, doc: "Same for 10-grams." },
    },
  },
  gopher_quality: {
    doc: "Gopher quality rules (Rae et al. 2021) exactly as datatrove's GopherQualityFilter; words are spaCy `blank(\"en\")` tokens. 0 disables a rule.",
    params: {
      min_doc_words: { type: "integer", min: 0, default: 50, doc: "Fewer non-symbol words → `short_doc`." },
      max_doc_words: { type: "integer", min: 0, default: 100_000, doc: "More non-symbol words → `long_doc`." },
      min_avg_word_length: { type: "number", min: 0, default: 3, doc: "Mean non-symbol word length below → `below_avg_threshold`." },
      max_avg_word_length: { type: "number", min: 0, default: 10, doc: "Mean non-symbol word length above → `above_avg_threshold`." },
      max_symbol_word_ratio: { type: "number", min: 0, default: 0.1, doc: "`#` per word, or `...`/`…` per word, above → `too_many_hashes` / `too_many_ellipsis`." },
      max_bullet_lines_ratio: { type: "number", min: 0, max: 1, default: 0.9, doc: "Share of lines starting with `•` or `-` above → `too_many_bullets`." },
      max_ellipsis_lines_ratio: { type: "number", min: 0, max: 1, default: 0.3, doc: "Share of lines ending with an ellipsis above → `too_many_end_ellipsis`." },
      max_non_alpha_words_ratio: { type: "number", min: 0, max: 1, default: 0.8, doc: "Share of words with an alphabetic character below → `below_alpha_threshold`." },
      min_stop_words: { type: "integer", min: 0, default: 2, doc: "Fewer distinct stop words (2024: stop-word tokens) → `too_few_stop_words`." },
      stop_words: { type: "string_list", default: ["the", "be", "to", "of", "and", "that", "have", "with"], doc: "Stop words (case-sensitive, as in datatrove)." },
      definition: {
        type: "string",
        enum: ["datatrove-0.10", "fineweb-2024"],
        default: "datatrove-0.10",
        doc: "`datatrove-0.10`: the current release (counts distinct stop words). `fineweb-2024`: the June 2024 code FineWeb was built with (counts stop-word tokens).",
      },
    },
    ordered: [
      { lower: "min_doc_words", upper: "max_doc_words", zeroDisables: true },
      { lower: "min_avg_word_length", upper: "max_avg_word_length", zeroDisables: true },
    ],
  },
  c4_quality: {
    doc: "C4 rules (Raffel et al. 2020) as datatrove's C4QualityFilter: drops lines (rewriting the text) and drops documents. Lines are `str.splitlines()`; sentences are spaCy sentencizer sentences.",
    params: {
      remove_citations: { type: "boolean", default: true, doc: "Remove Wikipedia citation marks (`[1]`, `[edit]`, `[citation needed]`) from lines." },
      filter_no_terminal_punct: { type: "boolean", default: true, doc: "Drop lines not ending in . ? ! \" ' (or ending in ...)." },
      min_num_sentences: { type: "integer", min: -1, default: 5, doc: "Fewer sentences in kept lines → `too_few_sentences` (-1 disables)." },
      min_words_per_line: { type: "integer", min: -1, default: 3, doc: "Drop lines with fewer whitespace-separated words (-1 disables)." },
      max_word_length: { type: "integer", min: -1, default: 1000, doc: "Drop lines with a longer word (-1 disables)." },
      filter_lorem_ipsum: { type: "boolean", default: true, doc: "A kept line containing \"lorem ipsum\" → `lorem_ipsum`." },
      filter_javascript: { type: "boolean", default: true, doc: "Drop lines mentioning \"javascript\"." },
      filter_curly_bracket: { type: "boolean", default: true, doc: "A kept line containing `{` → `curly_bracket`." },
      filter_policy: { type: "boolean", default: true, doc: "Drop lines with cookie / terms-of-use / privacy-policy phrases." },
      filter_bad_words: {
        type: "boolean",
        default: false,
        doc: "Documents containing a word of the LDNOOBW English list (the commit C4 and datatrove's C4BadWordsFilter pin) → `bad_words`. Off by default, as in datatrove's C4QualityFilter.",
      },
    },
  },
  fineweb_quality: {
    doc: "FineWeb rules (Penedo et al. 2024) exactly as datatrove's FineWebQualityFilter in the chosen `definition`; words are spaCy `blank(\"en\")` tokens.",
    params: {
      definition: {
        type: "string",
        enum: ["datatrove-0.10", "fineweb-2024"],
        default: "datatrove-0.10",
        doc: "`datatrove-0.10`: the current release (blank lines ignored, datatrove's TERMINAL_PUNCTUATION, strict `<`/`>`). `fineweb-2024`: the June 2024 code FineWeb was built with (blank lines count, stop characters . ' \" ! ?, `≤`/`≥`).",
      },
      line_punct_thr: { type: "number", min: 0, max: 1, default: 0.12, doc: "Share of lines ending in terminal punctuation below (2024: at or below) → `line_punct_ratio`." },
      line_punct_exclude_zero: { type: "boolean", default: false, doc: "Do not apply line_punct_thr to documents with no such line." },
      short_line_thr: { type: "number", min: 0, max: 1, default: 0.67, doc: "Share of short lines above (2024: at or above) → `short_line_ratio`." },
      short_line_length: { type: "integer", min: 0, default: 30, doc: "A line of at most this many code points is short." },
      char_duplicates_ratio: { type: "number", min: 0, max: 1, default: 0.01, doc: "Share of characters in duplicated lines above (2024: at or above) → `char_dup_ratio`." },
      new_line_ratio: { type: "number", min: 0, default: 0.3, doc: "Newlines per word above → `list_ratio`." },
    },
  },
  pii: {
    doc: "Masks e-mail addresses and public IP addresses (datatrove's PIIFormatter regexes and replacement strings; IPv6 added). Never drops a document; masked counts go to the step's `counters`.",
    params: {
      emails: { type: "boolean", default: true, doc: "Mask e-mail addresses (→ email@example.com, firstname.lastname@example.org in turn)." },
      ipv4: { type: "boolean", default: true, doc: "Mask IPv4 addresses (→ datatrove's six replacement addresses in turn)." },
      ipv6: { type: "boolean", default: true, doc: "Mask IPv6 addresses (→ 2001:db8::1, the documentation prefix)." },
      only_public_ips: { type: "boolean", default: true, doc: "Mask only globally routable addresses (Python's `ipaddress.is_global`)." },
    },
  },
  decontaminate: {
    doc: "Drops documents sharing word n-grams with a registered eval set (words lowercased, punctuation removed). Reason `decontaminate:<eval set>`; detail names the item and the matched n-gram. A missing or empty eval set fails the run.",
    params: {
      eval_sets: {
        type: "string_list",
        enum: ["gsm8k_test", "math500", "humaneval"],
        min: 1,
        default: ["gsm8k_test", "math500", "humaneval"],
        doc: "Eval sets from the registry (data/eval/).",
      },
      ngram: { type: "integer", min: 1, max: 64, default: 13, doc: "n-gram length in words (13 as in GPT-3 and later decontamination studies)." },
      min_matches: { type: "integer", min: 1, default: 1, doc: "Distinct n-grams a document must share with one eval item to be dropped." },
      eval_dir: { type: "string", default: "", doc: "Folder holding the eval set files; empty means the registry bundled in data/eval/." },
    },
  },
  quality_classifier: {
    doc: "Scores each document with a trained hashed word n-gram classifier (fastText, the DCLM approach; `tokenmill classifiers train`) and drops documents scoring below `threshold` (`quality_classifier:below_threshold`, the score in the detail). The score (probability of the positive label) is stored in the document's fields and as a float32 shard column named `field`.",
    params: {
      model: { type: "string", required: true, default: "", doc: "`name@version` or `name` (the newest version) of a classifier on the object store (classifiers/<name>/<version>/model.bin); in local mode also a path to a model.bin." },
      threshold: { type: "number", min: 0, max: 1, default: 0.5, doc: "Documents scoring below this are dropped (0 keeps every document)." },
      field: { type: "string", default: "quality_score", doc: "Field and shard column name for the score." },
    },
  },
  tokenize: {
    doc: "Tokenizes the text (token-identical to Hugging Face `tokenizers`). Text that spells a special token, e.g. `<|eot_id|>`, is tokenized as ordinary text.",
    params: {
      tokenizer: { type: "string", enum: ["llama3"], default: "llama3", doc: "Tokenizer id." },
      min_tokens: { type: "integer", min: 0, default: 1, doc: "Documents with fewer tokens are dropped (`tokenize:too_few_tokens`)." },
    },
  },
  exact_dedup: {
    doc: "Drops documents whose normalized text equals an earlier document's (128-bit content hash), across every task of the run. The kept copy is the first in input order (lowest task, then line); drops are `exact_dedup:duplicate` naming the kept doc_id.",
    params: {
      normalize: {
        type: "string",
        enum: ["none", "whitespace"],
        default: "whitespace",
        doc: "What is ignored when comparing texts: `whitespace` (default) hashes the NFC text with runs of whitespace collapsed to one space and trimmed; `none` hashes the text as it reaches the step.",
      },
    },
  },
  minhash_dedup: {
    doc: "Fuzzy dedup with MinHash LSH over word n-grams of the simplified text (lowercase, punctuation removed, digit runs → 0, diacritics stripped), distributed over the run's tasks. Candidate pairs that share a band are merged only when their signatures' estimated Jaccard reaches `threshold`; a document is dropped (`minhash_dedup:near_duplicate`, naming the kept doc_id and the estimated Jaccard) when it is that similar to an earlier kept document. Defaults as datatrove's MinhashConfig.",
    params: {
      ngram: { type: "integer", min: 1, max: 64, default: 5, doc: "Words per shingle. Default 5." },
      buckets: { type: "integer", min: 1, max: 512, default: 14, doc: "LSH bands. Default 14." },
      hashes_per_bucket: { type: "integer", min: 1, max: 256, default: 8, doc: "Hashes (rows) per band. Default 8." },
      hash_bits: { type: "integer", oneOf: [32, 64], min: 32, max: 64, default: 64, doc: "Width of each MinHash value: 32 or 64. Default 64." },
      threshold: {
        type: "number",
        min: 0,
        max: 1,
        default: 0.7,
        doc: "Minimum estimated Jaccard (over all buckets × hashes_per_bucket values) for a candidate pair to be merged. Default 0.7.",
      },
      seed: { type: "integer", min: 0, max: 4_294_967_295, default: 1, doc: "Seed of the hash family. Default 1." },
    },
  },
} as const satisfies Record<string, StepSpec>;

export type StepName = keyof typeof STEP_CATALOG;
export const STEP_NAMES = Object.keys(STEP_CATALOG) as StepName[];

export interface StepConfig {
  step: StepName;
  [param: string]: unknown;
}

export interface OutputConfig {
  /** Rows per Arrow record batch inside a shard. */
  batch_rows: number;
  /** A shard is closed once it holds this many tokens. */
  shard_max_tokens: number;
  /** Keep the (normalized) text column in the shards. */
  keep_text: boolean;
  /**
   * Inputs larger than this are split into several tasks: plain JSONL by byte range (each task
   * takes the lines that start in its range), Parquet by runs of whole row groups. Compressed JSONL
   * and Arrow IPC files are one task each.
   */
  split_bytes: number;
}

export const OUTPUT_PARAMS: Record<keyof OutputConfig, ParamSpec> = {
  batch_rows: { type: "integer", min: 1, max: 1_000_000, default: 1024, doc: "Rows per Arrow record batch." },
  shard_max_tokens: {
    type: "integer",
    min: 1,
    default: 50_000_000,
    doc: "A shard is closed once it holds at least this many tokens.",
  },
  keep_text: { type: "boolean", default: true, doc: "Store the text column beside the tokens." },
  split_bytes: {
    type: "integer",
    min: 1024,
    default: 256 * 1024 * 1024,
    doc: "Inputs larger than this are split into tasks: plain JSONL by byte range, Parquet by row groups (gzip/zstd JSONL and Arrow stay whole).",
  },
};

export interface PipelineSpec {
  version: 1;
  name: string;
  steps: StepConfig[];
  output: OutputConfig;
}
