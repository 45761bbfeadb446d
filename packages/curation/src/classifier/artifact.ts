import { createHash } from "node:crypto";

/**
 * Classifier artifact (`model.bin`), format version 1:
 *
 *   bytes 0-3    magic "TMQC"
 *   bytes 4-7    uint32 LE format version (1)
 *   bytes 8-11   uint32 LE header length H
 *   bytes 12..   header: H bytes of UTF-8 JSON (keys sorted, no whitespace) — ClassifierHeader
 *   then         payload: the fastText `.bin` model (its matrices are float32), payload_bytes long,
 *                whose sha256 is the header's payload_sha256
 *
 * Nothing time- or host-dependent is in the bytes: the same training data and config give the same
 * file, and its sha256 (first 16 hex digits) is the classifier version.
 */
export const CLASSIFIER_FORMAT_VERSION = 1;
const MAGIC = "TMQC";

export interface NgramConfig {
  /** Word n-grams up to this length (fastText `wordNgrams`; 2 = unigrams + bigrams, as DCLM). */
  word_ngrams: number;
  /** Text is lowercased before tokenizing. */
  lowercase: boolean;
  /** Tokens are whitespace-separated words (fastText's tokenizer); newlines become spaces. */
  tokenization: "whitespace";
}

export interface ClassifierHeader {
  format_version: number;
  engine: "fasttext";
  engine_build: string;
  ngram: NgramConfig;
  /** Hash buckets for n-grams (fastText `bucket`). */
  buckets: number;
  dim: number;
  /** [negative, positive]: the input label values the two classes stand for. */
  labels: [string, string];
  /** fastText label names of [negative, positive] inside the payload. */
  payload_labels: [string, string];
  payload_bytes: number;
  payload_sha256: string;
}

export const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function encodeArtifact(header: Omit<ClassifierHeader, "format_version" | "payload_bytes" | "payload_sha256">, payload: Uint8Array): Uint8Array {
  const full: ClassifierHeader = { ...header, format_version: CLASSIFIER_FORMAT_VERSION, payload_bytes: payload.byteLength, payload_sha256: sha256(payload) };
  const json = new TextEncoder().encode(canonical(full));
  const out = new Uint8Array(12 + json.byteLength + payload.byteLength);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, CLASSIFIER_FORMAT_VERSION, true);
  dv.setUint32(8, json.byteLength, true);
  out.set(json, 12);
  out.set(payload, 12 + json.byteLength);
  return out;
}

export function decodeArtifact(bytes: Uint8Array): { header: ClassifierHeader; payload: Uint8Array } {
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a tokenmill classifier artifact (bad magic)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== CLASSIFIER_FORMAT_VERSION) throw new Error(`unsupported classifier format version ${version}; expected ${CLASSIFIER_FORMAT_VERSION}`);
  const len = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as ClassifierHeader;
  const payload = bytes.subarray(12 + len);
  if (payload.byteLength !== header.payload_bytes || sha256(payload) !== header.payload_sha256) {
    throw new Error("classifier artifact is corrupt: payload size or sha256 does not match its header");
  }
  return { header, payload };
}

/** Content-addressed version of an artifact: the first 16 hex digits of its sha256. */
export const artifactVersion = (bytes: Uint8Array) => sha256(bytes).slice(0, 16);
