import type { InputPart } from "@tokenmill/domain";
import { countNewlines } from "./lines.js";
import type { InputFormat } from "./reader.js";
import { readerKindOf, sourceHead } from "./readers/index.js";
import { resolveFormat } from "./readers/format.js";
import { parquetFooter, rangeBuffer } from "./readers/parquet.js";

/** What planning needs of one input: its URI, size and range reads. */
export interface SplittableInput {
  uri: string;
  size: number;
  openRange: (start: number, end: number) => Promise<AsyncIterable<Uint8Array>>;
}

/**
 * How one input is split into tasks (pipeline `output.split_bytes`), or null when it is one task:
 * - plain JSONL larger than splitBytes: byte ranges of splitBytes (the last one shorter); the first
 *   has `lines_before: 0`, the others get theirs once the ranges before them are counted
 *   (countPartLines + resolveLineBases);
 * - Parquet larger than splitBytes with several row groups: runs of whole row groups, a run closed
 *   once its compressed bytes reach splitBytes;
 * - gzip / zstd JSONL (one compressed stream) and Arrow IPC: never split.
 * The decision depends only on the input's name, first bytes, size and (Parquet) footer, so it is the same in
 * the service and in local mode, and part of what the fingerprint covers (split_bytes is in the pipeline).
 */
export async function planParts(input: SplittableInput, splitBytes: number, format: InputFormat = "auto"): Promise<InputPart[] | null> {
  if (input.size <= splitBytes) return null;
  // By what the bytes are, as the reader will decide (readers/format.ts): a gzip file named .jsonl
  // is one task, not byte ranges of compressed data. Its issues are recorded by the task's reader.
  const { head } = await sourceHead({ stream: (async function* () {})(), openRange: input.openRange, size: input.size, close: async () => undefined });
  const resolved = resolveFormat(format, input.uri, head, []);
  const kind = readerKindOf(resolved);
  if (resolved === "jsonl") {
    const parts: InputPart[] = [];
    for (let start = 0; start < input.size; start += splitBytes) {
      const part: InputPart = { kind: "bytes", start, end: Math.min(input.size, start + splitBytes) };
      if (start === 0) part.lines_before = 0;
      parts.push(part);
    }
    return parts;
  }
  if (kind === "parquet") return parquetParts(input, splitBytes);
  return null;
}

async function parquetParts(input: SplittableInput, splitBytes: number): Promise<InputPart[] | null> {
  const groups = (await parquetFooter(rangeBuffer(input.openRange, input.size), input.uri)).row_groups;
  if (groups.length < 2) return null;
  const parts: InputPart[] = [];
  let start = 0;
  let bytes = 0;
  let counted = 0;
  let rowsBefore = 0;
  let rows = 0;
  for (const [g, group] of groups.entries()) {
    bytes += group.columns.reduce((n, c) => n + Number(c.meta_data?.total_compressed_size ?? 0n), 0);
    rows += Number(group.num_rows);
    const last = g === groups.length - 1;
    if (bytes >= splitBytes || last) {
      // The last part also counts the header and footer, so the parts add up to the file's size.
      const partBytes = last ? input.size - counted : bytes;
      parts.push({ kind: "row_groups", start, end: g + 1, rows_before: rowsBefore, bytes: partBytes });
      counted += partBytes;
      start = g + 1;
      rowsBefore += rows;
      rows = 0;
      bytes = 0;
    }
  }
  return parts.length > 1 ? parts : null;
}

/** Newlines in a byte part: what the parts after it add to their line numbers. */
export async function countPartLines(input: SplittableInput, part: Extract<InputPart, { kind: "bytes" }>, signal?: AbortSignal): Promise<number> {
  return countNewlines(await input.openRange(part.start, part.end), signal);
}

/**
 * Fills `lines_before` of one input's byte parts (in file order) from each part's `lines` count:
 * a prefix sum. Returns new part objects; row-group parts pass through.
 */
export function resolveLineBases(parts: InputPart[]): InputPart[] {
  let before = 0;
  return parts.map((p, i) => {
    if (p.kind !== "bytes") return p;
    const out: InputPart = { ...p, lines_before: before };
    // The last part's own count is not needed: nothing comes after it.
    if (i < parts.length - 1) {
      if (p.lines === undefined) throw new Error(`byte part ${p.start}-${p.end} has no line count`);
      before += p.lines;
    }
    return out;
  });
}

/** The byte parts whose lines must be counted before the parts after them can run (all but the last). */
export function partsToCount(parts: InputPart[]): number[] {
  return parts.flatMap((p, i) => (p.kind === "bytes" && i < parts.length - 1 && p.lines === undefined ? [i] : []));
}
