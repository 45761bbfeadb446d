import { canonicalJson, sha256Hex } from "./hash.js";

/**
 * Data contracts shared by the curator, the API and the Python trainer (DESIGN.md, "Data
 * contracts"). Field names are snake_case because Python reads them too. Bump the version
 * constants on any incompatible change.
 */
export const MANIFEST_VERSION = 1;
export const STATS_VERSION = 1;
export const SHARD_SCHEMA_VERSION = 1;

/** Version of the step code; part of every fingerprint so a behaviour change makes new versions. */
export const CURATION_CODE_VERSION = "tokenmill-curation/1";

/** Arrow schema-level metadata keys written into every shard. */
export const SHARD_METADATA_KEYS = {
  schemaVersion: "tokenmill.shard_schema_version",
  fingerprint: "tokenmill.dataset_fingerprint",
  tokenizerId: "tokenmill.tokenizer_id",
  tokenizerVocabSha256: "tokenmill.tokenizer_vocab_sha256",
  vocabSize: "tokenmill.vocab_size",
} as const;

export interface TokenizerInfo {
  id: string;
  /** sha256 over the vocabulary (token → id pairs, added tokens included) in id order. */
  vocab_sha256: string;
  vocab_size: number;
  eos_id: number;
}

export interface ShardEntry {
  /** File name relative to the dataset version's folder, e.g. `shard-00000-0000.arrow`. */
  file: string;
  rows: number;
  tokens: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  manifest_version: number;
  dataset: string;
  fingerprint: string;
  tokenizer: TokenizerInfo;
  pipeline: { name: string; hash: string };
  code_version: string;
  inputs: InputIdentity[];
  shards: ShardEntry[];
  totals: { shards: number; rows: number; tokens: number; bytes: number };
}

/** What identifies an input file in a fingerprint. */
export interface InputIdentity {
  uri: string;
  size: number;
  /** `sha256:<hex>` for local files, `etag:<value>` for S3/HTTP objects. */
  id: string;
}

/**
 * The piece of an input one task reads when a large input is split (pipeline `output.split_bytes`).
 * `bytes`: the lines that start in bytes [start, end) of a plain JSONL file; `lines_before` is the
 * number of newlines before `start`, so line numbers (and fallback doc ids) are those of the whole
 * file; it is unknown (undefined) until the parts before it were counted. `row_groups`: Parquet row
 * groups [start, end), whose first row is row `rows_before + 1` of the file. Tasks of one input have
 * consecutive indices in file order, so the shards in task order hold the same rows as one task would.
 */
export type InputPart =
  | { kind: "bytes"; start: number; end: number; lines_before?: number; lines?: number }
  | { kind: "row_groups"; start: number; end: number; rows_before: number; bytes?: number };

/** Bytes of the input a part covers (for progress): the range, or the row groups' compressed bytes. */
export function partBytes(part: InputPart | null, inputSize: number): number {
  if (!part) return inputSize;
  return part.kind === "bytes" ? part.end - part.start : (part.bytes ?? 0);
}

/** Parses an InputPart stored as JSON (a task row), or null for a whole-file task. */
export function parseInputPart(value: unknown): InputPart | null {
  if (value === null || value === undefined) return null;
  const v = value as Record<string, unknown>;
  const int = (k: string) => {
    const n = v[k];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new Error(`input part: ${k} must be a non-negative integer, got ${JSON.stringify(n)}`);
    return n;
  };
  const opt = (k: string) => (v[k] === undefined || v[k] === null ? undefined : int(k));
  if (v.kind === "bytes") {
    const part: InputPart = { kind: "bytes", start: int("start"), end: int("end") };
    const before = opt("lines_before");
    const lines = opt("lines");
    if (before !== undefined) part.lines_before = before;
    if (lines !== undefined) part.lines = lines;
    return part;
  }
  if (v.kind === "row_groups") {
    const part: InputPart = { kind: "row_groups", start: int("start"), end: int("end"), rows_before: int("rows_before") };
    const bytes = opt("bytes");
    if (bytes !== undefined) part.bytes = bytes;
    return part;
  }
  throw new Error(`input part: unknown kind ${JSON.stringify(v.kind)}`);
}

export interface StepStats {
  step: string;
  docs_in: number;
  docs_out: number;
  /** reason (`<step>:<rule>`) → documents dropped for it */
  dropped: Record<string, number>;
  /** Step-specific counts that are not drops (e.g. `pii` masks by kind, `c4_quality` lines removed by rule). */
  counters?: Record<string, number>;
}

/** A problem with an input file that is not tied to one document (truncated gzip, empty file). */
export interface InputIssue {
  file: string;
  line: number;
  byte_offset: number;
  reason: string;
  detail: string;
}

export interface Stats {
  stats_version: number;
  fingerprint: string;
  docs_in: number;
  docs_kept: number;
  tokens_kept: number;
  bytes_in: number;
  /** Reader-level drops come first as the `read` step, then the pipeline's steps in order. */
  steps: StepStats[];
  dropped_total: Record<string, number>;
  input_issues: InputIssue[];
}

/** One line of `dropped/*.jsonl.gz`. */
export interface DroppedRecord {
  doc_id: string;
  step: string;
  reason: string;
  detail?: string;
  source: string;
  file: string;
  line: number;
  byte_offset: number;
}

export interface FingerprintInput {
  inputs: InputIdentity[];
  pipelineHash: string;
  tokenizer: Pick<TokenizerInfo, "id" | "vocab_sha256">;
  codeVersion: string;
  /** Reader options that change what is read (text and id fields, format). */
  reader: Record<string, string>;
  /** Trained models the pipeline loads (quality classifiers), by content; absent when there are none. */
  models?: { ref: string; sha256: string }[];
}

/** Dataset version fingerprint: hash of inputs, pipeline, tokenizer and code version. */
export function datasetFingerprint(f: FingerprintInput): string {
  const inputs = [...f.inputs].sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return sha256Hex(canonicalJson({ ...f, inputs })).slice(0, 32);
}

/** Object-store key prefix of a dataset version: `datasets/<name>/<fingerprint>/`. */
export function datasetPrefix(name: string, fingerprint: string): string {
  return `datasets/${name}/${fingerprint}/`;
}

/**
 * Adds the per-step counts of several tasks of one run (same pipeline, so the same step order).
 * Reasons come out sorted so the result does not depend on which task saw a reason first.
 */
export function sumStepStats(lists: StepStats[][]): StepStats[] {
  const steps: StepStats[] = [];
  for (const list of lists) {
    list.forEach((s, i) => {
      const into = steps[i] ?? (steps[i] = { step: s.step, docs_in: 0, docs_out: 0, dropped: {} });
      if (into.step !== s.step) throw new Error(`task results disagree on step ${i}: ${into.step} vs ${s.step}`);
      into.docs_in += s.docs_in;
      into.docs_out += s.docs_out;
      for (const [reason, n] of Object.entries(s.dropped)) into.dropped[reason] = (into.dropped[reason] ?? 0) + n;
      if (s.counters) {
        const c = (into.counters ??= {});
        for (const [name, n] of Object.entries(s.counters)) c[name] = (c[name] ?? 0) + n;
      }
    });
  }
  return steps.map((s) => ({ ...s, dropped: sortedRecord(s.dropped), ...(s.counters ? { counters: sortedRecord(s.counters) } : {}) }));
}

export function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
