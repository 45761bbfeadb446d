import type { FileHandle } from "node:fs/promises";
import { type RecordBatch, RecordBatchReader } from "apache-arrow";
import { basename, DEFAULT_READER_OPTIONS, type ReadEvent, type ReaderOptions, type ReadState } from "../reader.js";
import { rowToEvent } from "./columnar.js";
import { BadInputError } from "./format.js";
import { type InputSource, peek } from "./source.js";

/** `ARROW1` and its padding to 8 bytes: the head of the IPC file format; also what detection peeks at. */
const FILE_PREFIX = 8;
export const ARROW_FILE_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"

/**
 * Reads Arrow IPC, file format (`.arrow`) or stream format (`.arrows`), one record batch at a time.
 * The stream format is read as it arrives. The file format is read through its footer: by byte
 * range when `source.openRange` and `source.size` are given (only the footer and one batch are in
 * memory), else from the whole file buffered. Each row is a document: `line` = 1-based row
 * number, `byte_offset` 0.
 */
export async function* readArrow(source: InputSource, uri: string, options: ReaderOptions, state: ReadState): AsyncGenerator<ReadEvent> {
  const opts = { ...DEFAULT_READER_OPTIONS, ...options };
  const base = basename(uri);
  const { head, stream } = await peek(source.stream, FILE_PREFIX);
  if (head === undefined) {
    state.issues.push({ file: uri, line: 0, byte_offset: 0, reason: "empty_file", detail: "the input holds no rows" });
    return;
  }
  let row = 0;
  // Errors from reading the bytes (store, network) pass as they are; anything else apache-arrow
  // throws means the bytes are not valid Arrow IPC, which no retry fixes.
  const io = { failed: false };
  try {
    let reader: AsyncIterable<RecordBatch> | Iterable<RecordBatch>;
    if (!isFileMagic(head)) reader = await RecordBatchReader.from(counted(stream, state, io));
    else if (source.openRange && source.size !== undefined) {
      await source.close();
      reader = await RecordBatchReader.from(rangeHandle(source.openRange, source.size, state, io));
    } else {
      const chunks: Uint8Array[] = [];
      for await (const chunk of counted(stream, state, io)) chunks.push(chunk);
      reader = RecordBatchReader.from(Buffer.concat(chunks));
    }
    for await (const batch of reader) {
      const names = batch.schema.fields.map((f) => f.name);
      const columns = names.map((_, j) => batch.getChildAt(j));
      for (let i = 0; i < batch.numRows; i++) {
        const record: Record<string, unknown> = {};
        for (const [j, name] of names.entries()) record[name] = columns[j]?.get(i) ?? null;
        row += 1;
        yield rowToEvent(record, row, opts, base);
      }
    }
  } catch (err) {
    if (io.failed) throw err;
    throw new BadInputError(uri, `not readable as Arrow IPC${row > 0 ? ` after row ${row}` : ""}: ${(err as Error).message}`);
  }
  if (row === 0) state.issues.push({ file: uri, line: 0, byte_offset: 0, reason: "empty_file", detail: "the input holds no rows" });
}

async function* counted(stream: AsyncIterable<Uint8Array>, state: ReadState, io: { failed: boolean }): AsyncGenerator<Uint8Array> {
  const it = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (err) {
        io.failed = true;
        throw err;
      }
      if (r.done) return;
      state.bytes_read += r.value.byteLength;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * What apache-arrow takes for a node FileHandle (an `fd`, `stat()`, `read(buffer, offset, length,
 * position)`), served by range reads: its file reader then fetches the footer and each batch by range.
 */
function rangeHandle(openRange: NonNullable<InputSource["openRange"]>, size: number, state: ReadState, io: { failed: boolean }) {
  return {
    fd: -1,
    stat: async () => ({ size }),
    close: async () => undefined,
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      const end = Math.min(size, position + length);
      let bytesRead = 0;
      try {
        if (end > position) {
          for await (const chunk of await openRange(position, end)) {
            buffer.set(chunk, offset + bytesRead);
            bytesRead += chunk.byteLength;
          }
        }
      } catch (err) {
        io.failed = true;
        throw err;
      }
      state.bytes_read += bytesRead;
      return { bytesRead, buffer };
    },
  } as unknown as FileHandle;
}

export function isFileMagic(head: Uint8Array): boolean {
  return ARROW_FILE_MAGIC.every((b, i) => head[i] === b);
}
