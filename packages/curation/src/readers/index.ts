import type { InputPart } from "@tokenmill/domain";
import { type ReadEvent, type ReaderOptions, type ReadState, readJsonl } from "../reader.js";
import { readArrow } from "./arrow.js";
import { type ConcreteFormat, resolveFormat, SNIFF_BYTES } from "./format.js";
import { readParquet } from "./parquet.js";
import { type InputSource, peek } from "./source.js";

export { readArrow } from "./arrow.js";
export { BadInputError, describeHead, formatOfName, resolveFormat, sniffFormat } from "./format.js";
export { jsonSafe } from "./columnar.js";
export { readParquet } from "./parquet.js";
export { type InputSource, inputSource, lazyStream } from "./source.js";
export { zstdDecompress } from "./zstd.js";

/** How a reader reads: the JSONL family (gzip / zstd / plain, decided in readJsonl) or a columnar format. */
export type ReaderKind = "jsonl" | "parquet" | "arrow";

/** The reader a concrete format calls for. */
export function readerKindOf(format: ConcreteFormat): ReaderKind {
  return format === "parquet" || format === "arrow" ? format : "jsonl";
}

/**
 * The first bytes of an input, for format detection: by range when the source allows it (the
 * stream stays unopened for readers that go by range), else peeked from the stream, which then
 * replays them. Sniffed range bytes are not counted in bytes_read: the reader reads them again.
 */
export async function sourceHead(source: InputSource): Promise<{ head: Uint8Array | undefined; source: InputSource }> {
  if (source.openRange && source.size !== undefined) {
    if (source.size === 0) return { head: undefined, source };
    const chunks: Uint8Array[] = [];
    for await (const c of await source.openRange(0, Math.min(source.size, SNIFF_BYTES))) chunks.push(c);
    return { head: Buffer.concat(chunks), source };
  }
  const peeked = await peek(source.stream, SNIFF_BYTES);
  return { head: peeked.head, source: { ...source, stream: peeked.stream } };
}

/**
 * Reads one input in its format — JSONL (plain, gzip, zstd), Parquet or Arrow IPC — as the same
 * stream of `doc` / `drop` events (see readJsonl). The format is decided from the first bytes and
 * `options.format` by resolveFormat: "auto" reads what the bytes are (a name that disagrees is an
 * input issue), an explicit format that the bytes contradict fails naming the file. Every error
 * thrown names the file.
 */
export async function* readInput(
  source: InputSource,
  uri: string,
  options: ReaderOptions,
  state: ReadState,
  /** The piece of the input a split task reads (see InputPart); the whole input when absent. */
  part?: InputPart | null,
): AsyncGenerator<ReadEvent> {
  try {
    if (part?.kind === "bytes") {
      yield* readByteRange(source, uri, options, state, part);
      return;
    }
    const sniffed = await sourceHead(source);
    const format = resolveFormat(options.format ?? "auto", uri, sniffed.head, state.issues);
    const src = sniffed.source;
    switch (readerKindOf(format)) {
      case "jsonl":
        if (part) throw new Error(`a ${part.kind} part of a ${format} input cannot be read`);
        yield* readJsonl(src.stream, uri, { ...options, format }, state);
        return;
      case "arrow":
        if (part) throw new Error(`a ${part.kind} part of an Arrow input cannot be read`);
        yield* readArrow(src, uri, options, state);
        return;
      case "parquet":
        yield* readParquet(src, uri, options, state, part?.kind === "row_groups" ? part : undefined);
        return;
    }
  } catch (err) {
    throw namingFile(err, uri);
  }
}

/** The error with the file's name in its message (typed errors keep their class). */
function namingFile(err: unknown, uri: string): unknown {
  if (!(err instanceof Error) || err.message.includes(uri)) return err;
  err.message = `${uri}: ${err.message}`;
  return err;
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
  // The first range resolves the format as a whole-file read would (and records a misleading
  // name once); every range is then plain JSONL, whatever the name says.
  if (part.start === 0) resolveFormat(options.format ?? "auto", uri, (await sourceHead(source)).head, state.issues);
  await source.close();
  // From the byte before the range: it tells whether a line starts exactly at `start`.
  const stream = await source.openRange(Math.max(0, part.start - 1), source.size);
  yield* readJsonl(stream, uri, { ...options, format: "jsonl" }, state, { start: part.start, end: part.end, linesBefore: part.lines_before });
}
