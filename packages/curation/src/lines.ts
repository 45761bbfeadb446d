/**
 * Splits a byte stream into lines without quadratic concatenation: the pieces of a line that
 * spans chunks are kept in a list and joined once when its newline arrives, so a single 50 MB
 * line costs about one extra copy of itself, not O(n²) appends.
 */
export interface RawLine {
  /** 1-based physical line number (blank lines count). */
  line: number;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** The line without its `\n` (a trailing `\r` is left in; JSON.parse ignores it). */
  bytes: Buffer;
}

export interface LineSplitState {
  /** Bytes of the unterminated tail, when the stream ended (or failed) mid-line. */
  pending: RawLine | null;
}

const NL = 0x0a;

/**
 * Yields complete lines. A final line without a newline is yielded too when the stream ends
 * cleanly; when the stream throws, the unterminated tail is left in `state.pending` so the caller
 * can report it (a truncated gzip) and the error is rethrown.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  state: LineSplitState,
  /** Line number and byte offset of the stream's first byte (a byte range of a larger file). */
  at: { line: number; offset: number } = { line: 1, offset: 0 },
): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let partsLen = 0;
  let line = at.line;
  let lineStart = at.offset;
  let consumed = at.offset;
  try {
    for await (const raw of chunks) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      let from = 0;
      for (let nl = chunk.indexOf(NL, from); nl !== -1; nl = chunk.indexOf(NL, from)) {
        const piece = chunk.subarray(from, nl);
        const bytes = partsLen === 0 ? piece : Buffer.concat([...parts, piece], partsLen + piece.length);
        parts = [];
        partsLen = 0;
        yield { line, offset: lineStart, bytes };
        line += 1;
        lineStart = consumed + nl + 1;
        from = nl + 1;
      }
      if (from < chunk.length) {
        // Copy: the producer may reuse its chunk buffers once we move on.
        const rest = Buffer.from(chunk.subarray(from));
        parts.push(rest);
        partsLen += rest.length;
      }
      consumed += chunk.length;
    }
  } catch (err) {
    state.pending = partsLen > 0 ? { line, offset: lineStart, bytes: Buffer.concat(parts, partsLen) } : null;
    throw err;
  }
  if (partsLen > 0) yield { line, offset: lineStart, bytes: Buffer.concat(parts, partsLen) };
}

/** Where a byte-range task reads: the stream starts at byte `from` of the file (see linesOfRange). */
export interface LineRange {
  /** The task's range is [start, end): it takes the lines that start in it. */
  start: number;
  end: number;
  /** Newlines in the file before `start`. */
  linesBefore: number;
}

/**
 * The lines that start in bytes [range.start, range.end) of a file, numbered as in the whole file.
 * `chunks` must begin at byte max(0, start - 1): the byte before `start` tells whether a line starts
 * exactly at `start` (it is a newline) or the range begins inside a line that belongs to the range
 * before. The last line may run past `end`; it is read to its newline.
 */
export async function* linesOfRange(chunks: AsyncIterable<Uint8Array>, state: LineSplitState, range: LineRange): AsyncGenerator<RawLine> {
  const it = chunks[Symbol.asyncIterator]();
  try {
    let pos = range.start;
    let rest: Buffer | undefined;
    let line = range.linesBefore + 1;
    if (range.start > 0) {
      // Skip to the first line start at or after `start`: just past the first newline at or after start - 1.
      pos = range.start - 1;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        const chunk = asBuffer(r.value);
        const nl = chunk.indexOf(NL);
        if (nl === -1) {
          pos += chunk.length;
          continue;
        }
        // A newline at or after `start` ends a line that began before it: one more line before ours.
        if (pos + nl >= range.start) line += 1;
        pos += nl + 1;
        rest = chunk.subarray(nl + 1);
        break;
      }
    }
    async function* remaining(): AsyncGenerator<Uint8Array> {
      if (rest && rest.length > 0) yield rest;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    }
    for await (const raw of splitLines(remaining(), state, { line, offset: pos })) {
      if (raw.offset >= range.end) return;
      yield raw;
    }
  } finally {
    await it.return?.();
  }
}

function asBuffer(raw: Uint8Array): Buffer {
  return Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Newlines in a stream (a byte range's line count, for the line numbers of the ranges after it). */
export async function countNewlines(chunks: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<number> {
  let n = 0;
  for await (const raw of chunks) {
    signal?.throwIfAborted();
    const chunk = asBuffer(raw);
    for (let i = chunk.indexOf(NL); i !== -1; i = chunk.indexOf(NL, i + 1)) n += 1;
  }
  return n;
}
