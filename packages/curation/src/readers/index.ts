import type { InputPart } from "@tokenmill/domain";
import { type InputFormat, type ReadEvent, type ReaderOptions, type ReadState, readJsonl, stripQuery } from "../reader.js";
import { isFileMagic, readArrow } from "./arrow.js";
import { readParquet } from "./parquet.js";
import { type InputSource, peek } from "./source.js";

export { readArrow } from "./arrow.js";
export { jsonSafe } from "./columnar.js";
export { readParquet } from "./parquet.js";
export { type InputSource, inputSource, lazyStream } from "./source.js";
export { zstdDecompress } from "./zstd.js";

/** How a reader reads: the JSONL family (gzip / zstd / plain, decided in readJsonl) or a columnar format. */
export type ReaderKind = "jsonl" | "parquet" | "arrow";

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

/** The reader a format and URI call for, or undefined when "auto" must look at the bytes. */
export function readerKindFor(format: InputFormat | undefined, uri: string): ReaderKind | undefined {
  switch (format ?? "auto") {
    case "parquet":
      return "parquet";
    case "arrow":
      return "arrow";
    case "auto":
      break;
    default:
      return "jsonl";
  }
  const path = stripQuery(uri).toLowerCase();
  if (path.endsWith(".parquet")) return "parquet";
  if (path.endsWith(".arrow") || path.endsWith(".arrows")) return "arrow";
  if (/\.jsonl(\.gz|\.zst)?$/.test(path) || path.endsWith(".gz") || path.endsWith(".zst")) return "jsonl";
  return undefined;
}

/** "auto" for a URI without a known extension: Parquet and Arrow by magic bytes, else JSONL. */
export function readerKindOfBytes(head: Uint8Array | undefined): ReaderKind {
  if (!head) return "jsonl";
  if (PARQUET_MAGIC.every((b, i) => head[i] === b)) return "parquet";
  if (isFileMagic(head)) return "arrow";
  // Stream format: a continuation marker (0xFFFFFFFF) before the first message's length.
  if (head.byteLength >= 8 && head[0] === 0xff && head[1] === 0xff && head[2] === 0xff && head[3] === 0xff) return "arrow";
  return "jsonl";
}

/**
 * Reads one input in its format — JSONL (plain, gzip, zstd), Parquet or Arrow IPC — as the same
 * stream of `doc` / `drop` events (see readJsonl). The format comes from `options.format`; "auto"
 * looks at the extension, then at the first bytes. JSONL inputs are read exactly as readJsonl does.
 */
export async function* readInput(
  source: InputSource,
  uri: string,
  options: ReaderOptions,
  state: ReadState,
  /** The piece of the input a split task reads (see InputPart); the whole input when absent. */
  part?: InputPart | null,
): AsyncGenerator<ReadEvent> {
  if (part?.kind === "bytes") {
    yield* readByteRange(source, uri, options, state, part);
    return;
  }
  let kind = readerKindFor(options.format, uri);
  let stream = source.stream;
  if (kind === undefined) {
    const peeked = await peek(stream, 8);
    kind = readerKindOfBytes(peeked.head);
    stream = peeked.stream;
  }
  switch (kind) {
    case "jsonl":
      yield* readJsonl(stream, uri, options, state);
      return;
    case "arrow":
      yield* readArrow({ ...source, stream }, uri, options, state);
      return;
    case "parquet":
      yield* readParquet({ ...source, stream }, uri, options, state, part?.kind === "row_groups" ? part : undefined);
      return;
  }
  if (part) throw new Error(`${uri}: a ${part.kind} part of a ${kind} input cannot be read`);
}

async function* readByteRange(
  source: InputSource,
  uri: string,
  options: ReaderOptions,
  state: ReadState,
  part: Extract<InputPart, { kind: "bytes" }>,
): AsyncGenerator<ReadEvent> {
  if (part.lines_before === undefined) throw new Error(`${uri} bytes ${part.start}-${part.end}: the lines before the range were not counted`);
  if (!source.openRange || source.size === undefined) throw new Error(`${uri}: a byte-range part needs range reads of the input`);
  await source.close();
  // From the byte before the range: it tells whether a line starts exactly at `start`.
  const stream = await source.openRange(Math.max(0, part.start - 1), source.size);
  yield* readJsonl(stream, uri, options, state, { start: part.start, end: part.end, linesBefore: part.lines_before });
}
