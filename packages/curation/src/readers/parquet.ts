import { type AsyncBuffer, parquetMetadataAsync, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { basename, DEFAULT_READER_OPTIONS, type ReadEvent, type ReaderOptions, type ReadState } from "../reader.js";
import { TokenmillError } from "@tokenmill/domain";
import { rowToEvent } from "./columnar.js";
import { BadInputError } from "./format.js";
import type { InputSource } from "./source.js";

/**
 * Reads a Parquet file (hyparquet; snappy, gzip, zstd, brotli, lz4 pages) one row group at a time.
 * With `source.openRange` and `source.size` the footer and each row group's column chunks are
 * fetched by byte range, so only the metadata and one row group are in memory at a time; without
 * them the whole file is buffered first. Each row is a document: `line` = 1-based row number.
 */
export async function* readParquet(
  source: InputSource,
  uri: string,
  options: ReaderOptions,
  state: ReadState,
  /** Only row groups [start, end), whose first row is row rows_before + 1 of the file. */
  part?: { start: number; end: number; rows_before: number },
): AsyncGenerator<ReadEvent> {
  const opts = { ...DEFAULT_READER_OPTIONS, ...options };
  const base = basename(uri);
  const file = await asyncBufferFor(source, state);
  if (file.byteLength === 0) {
    state.issues.push({ file: uri, line: 0, byte_offset: 0, reason: "empty_file", detail: "the input holds no rows" });
    return;
  }
  const metadata = await parquetFooter(file, uri);
  if (part && part.end > metadata.row_groups.length) {
    throw new Error(`${uri} has ${metadata.row_groups.length} row groups; the task's part asks for groups ${part.start}-${part.end}`);
  }
  // hyparquet addresses rows by their file-wide index.
  let fileRow = 0;
  for (let g = 0; g < (part?.start ?? 0); g++) fileRow += Number(metadata.row_groups[g]!.num_rows);
  if (part && fileRow !== part.rows_before) throw new Error(`${uri}: row groups before ${part.start} hold ${fileRow} rows, the task's part says ${part.rows_before}`);
  let row = fileRow;
  for (const group of metadata.row_groups.slice(part?.start ?? 0, part?.end)) {
    const rows = Number(group.num_rows);
    if (rows === 0) continue;
    let records: Record<string, unknown>[] = [];
    await parquetRead({
      file,
      metadata,
      compressors,
      rowStart: row,
      rowEnd: row + rows,
      rowFormat: "object",
      utf8: false, // BYTE_ARRAY without a STRING annotation stays binary (→ base64 in fields)
      onComplete: (r) => {
        records = r;
      },
    });
    for (const record of records) {
      row += 1;
      yield rowToEvent(record, row, opts, base);
    }
  }
  if (row === 0 && !part) state.issues.push({ file: uri, line: 0, byte_offset: 0, reason: "empty_file", detail: "the input holds no rows" });
}

async function asyncBufferFor(source: InputSource, state: ReadState): Promise<AsyncBuffer> {
  const { openRange, size } = source;
  if (openRange && size !== undefined) {
    await source.close();
    return rangeBuffer(openRange, size, (n) => (state.bytes_read += n));
  }
  // No range reads (a plain stream): buffer the file.
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source.stream) {
    chunks.push(chunk);
    total += chunk.byteLength;
    state.bytes_read += chunk.byteLength;
  }
  const all = toArrayBuffer(Buffer.concat(chunks, total));
  return { byteLength: all.byteLength, slice: (start, end) => all.slice(start, end) };
}

/** A file read by byte range as hyparquet's AsyncBuffer; `onRead` is told the bytes each slice fetched. */
export function rangeBuffer(
  openRange: (start: number, end: number) => Promise<AsyncIterable<Uint8Array>>,
  size: number,
  onRead?: (bytes: number) => void,
): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      if (stop <= start) return new ArrayBuffer(0);
      const bytes = await collect(await openRange(start, stop));
      onRead?.(bytes.byteLength);
      return toArrayBuffer(bytes);
    },
  };
}

/** The footer metadata of a Parquet file, with the file named in the error when it is not Parquet. */
export async function parquetFooter(file: AsyncBuffer, uri: string) {
  try {
    return await parquetMetadataAsync(file);
  } catch (err) {
    // A read that failed (network, store) may succeed next time; bytes that are no Parquet never will.
    if ((err as { code?: unknown }).code !== undefined || err instanceof TokenmillError) throw err;
    throw new BadInputError(uri, `cannot read its Parquet footer: ${(err as Error).message}`);
  }
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
