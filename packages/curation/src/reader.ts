import { Readable } from "node:stream";
import { TextDecoder } from "node:util";
import { createGunzip } from "node:zlib";
import type { InputIssue } from "@tokenmill/domain";
import { type LineRange, type LineSplitState, linesOfRange, type RawLine, splitLines } from "./lines.js";
import { isZstdError, zstdDecompress } from "./readers/zstd.js";
import type { Doc, Drop } from "./types.js";

/**
 * "auto" picks by extension (`.jsonl`, `.gz`, `.zst`, `.parquet`, `.arrow`/`.arrows`), then by the
 * first bytes (gzip, zstd, Parquet `PAR1`, Arrow `ARROW1` / stream); anything else is JSONL.
 */
export type InputFormat = "auto" | "jsonl" | "jsonl.gz" | "jsonl.zst" | "parquet" | "arrow";

export const INPUT_FORMATS: readonly InputFormat[] = ["auto", "jsonl", "jsonl.gz", "jsonl.zst", "parquet", "arrow"];

export interface ReaderOptions {
  /**
   * "auto" (default): gzip when the uri ends in `.gz` or the bytes start with the gzip magic, zstd
   * likewise for `.zst`; Parquet and Arrow by extension or magic (readers/index.ts).
   */
  format?: InputFormat;
  /** Field holding the document text. Default "text". */
  text_field?: string;
  /** Field holding the document id (string or number). Default "id". */
  id_field?: string;
}

export const DEFAULT_READER_OPTIONS: Required<ReaderOptions> = { format: "auto", text_field: "text", id_field: "id" };

export type ReadEvent = { kind: "doc"; doc: Doc } | { kind: "drop"; drop: Drop };

/** Counters the reader keeps while it runs; read them after (or during) iteration. */
export interface ReadState {
  /** Bytes pulled from the input as stored (compressed bytes for gzip). */
  bytes_read: number;
  issues: InputIssue[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * Reads JSON Lines (optionally gzip- or zstd-compressed) and yields every document as kept (`doc`) or dropped
 * (`drop` with a `read:*` reason); nothing is lost silently. Blank lines (only whitespace) are
 * not documents: they are skipped and not counted, but still advance the line number.
 */
export async function* readJsonl(
  input: AsyncIterable<Uint8Array>,
  uri: string,
  options: ReaderOptions,
  state: ReadState,
  /** Only the lines that start in this byte range; `input` then begins at byte max(0, start - 1). */
  range?: LineRange,
): AsyncGenerator<ReadEvent> {
  const opts = { ...DEFAULT_READER_OPTIONS, ...options };
  const base = basename(uri);
  const { gzip, zstd, empty, chunks } = await sniff(input, uri, opts.format, state);
  if (range && (gzip || zstd)) {
    throw new Error(`${uri} is ${gzip ? "gzip" : "zstd"}-compressed: a compressed file cannot be split by byte range`);
  }
  let stream: AsyncIterable<Uint8Array> = chunks;
  // A zero-byte .gz is an empty file, not a truncated stream (gunzip would call it the latter).
  if (zstd && !empty) stream = zstdDecompress(chunks);
  else if (gzip && !empty) {
    const gunzip = createGunzip();
    // pipe() does not forward source errors; destroy the gunzip with them so iteration throws.
    const src = Readable.from(chunks);
    src.on("error", (err) => gunzip.destroy(err));
    stream = src.pipe(gunzip);
  }
  const split: LineSplitState = { pending: null };
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let sawAnyLine = false;
  try {
    for await (const raw of range ? linesOfRange(stream, split, range) : splitLines(stream, split)) {
      sawAnyLine = true;
      if (isBlank(raw.bytes)) continue;
      yield parseLine(raw, decoder, opts, base);
    }
  } catch (err) {
    if (!isZlibError(err) && !isZstdError(err)) throw err;
    // A truncated or corrupt gzip (or zstd): what was decompressed so far was processed; the partial
    // last line (if any) is a dropped document and the file gets an issue.
    const pending = split.pending;
    const line = pending?.line ?? 0;
    const offset = pending?.offset ?? 0;
    const detail = `${(err as Error).message} (${(err as { code?: string }).code ?? "zlib"})`;
    state.issues.push({ file: uri, line, byte_offset: offset, reason: "truncated", detail });
    if (pending && !isBlank(pending.bytes)) {
      const text = pending.bytes.toString("utf8");
      yield {
        kind: "drop",
        drop: { doc_id: `${base}:${pending.line}`, line, byte_offset: offset, reason: "read:truncated", detail, text },
      };
    }
    return;
  }
  if (!sawAnyLine && !range) state.issues.push({ file: uri, line: 0, byte_offset: 0, reason: "empty_file", detail: "the input holds no lines" });
}

function parseLine(raw: RawLine, decoder: TextDecoder, opts: Required<ReaderOptions>, base: string): ReadEvent {
  const at = { line: raw.line, byte_offset: raw.offset };
  const fallbackId = `${base}:${raw.line}`;
  let str: string;
  try {
    str = decoder.decode(raw.bytes);
  } catch (err) {
    return { kind: "drop", drop: { doc_id: fallbackId, ...at, reason: "read:invalid_utf8", detail: (err as Error).message } };
  }
  let value: unknown;
  try {
    value = JSON.parse(str);
  } catch (err) {
    return { kind: "drop", drop: { doc_id: fallbackId, ...at, reason: "read:malformed_json", detail: (err as Error).message, text: str } };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    return { kind: "drop", drop: { doc_id: fallbackId, ...at, reason: "read:not_an_object", detail: `got ${kind}`, text: str } };
  }
  const record = value as Record<string, unknown>;
  const rawId = record[opts.id_field];
  const doc_id = typeof rawId === "string" || (typeof rawId === "number" && Number.isFinite(rawId)) ? String(rawId) : fallbackId;
  const text = record[opts.text_field];
  if (typeof text !== "string") {
    const detail = text === undefined ? `no "${opts.text_field}" field` : `"${opts.text_field}" is ${text === null ? "null" : typeof text}, not a string`;
    return { kind: "drop", drop: { doc_id, ...at, reason: "read:missing_text", detail } };
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (k !== opts.text_field && k !== opts.id_field) fields[k] = v;
  return { kind: "doc", doc: { doc_id, text, ...at, fields } };
}

/** Peeks at the first chunk to decide on gzip or zstd, then replays it; counts stored bytes as they pass. */
async function sniff(input: AsyncIterable<Uint8Array>, uri: string, format: InputFormat, state: ReadState) {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? undefined : first.value;
  const gzip =
    format === "jsonl.gz" ||
    (format === "auto" && (/\.gz$/i.test(stripQuery(uri)) || (head !== undefined && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1])));
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      if (head === undefined) return;
      state.bytes_read += head.byteLength;
      yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        state.bytes_read += r.value.byteLength;
        yield r.value;
      }
    } finally {
      // A reader that stops early (a byte range's end) releases the input (closes the file).
      await it.return?.();
    }
  }
  const zstd =
    !gzip &&
    (format === "jsonl.zst" ||
      (format === "auto" && (/\.zst$/i.test(stripQuery(uri)) || (head !== undefined && ZSTD_MAGIC.every((b, i) => head[i] === b)))));
  return { gzip, zstd, empty: head === undefined, chunks: chunks() };
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0b && b !== 0x0c) return false;
  return true;
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("Z_");
}

export function stripQuery(uri: string): string {
  return uri.replace(/[?#].*$/, "");
}

/** Last path segment of a path or URI, used for fallback doc ids. */
export function basename(uri: string): string {
  const path = stripQuery(uri).replace(/\/+$/, "");
  return path.slice(path.lastIndexOf("/") + 1) || path;
}
