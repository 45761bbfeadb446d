import { describe, expect, it } from "vitest";
import { countNewlines, linesOfRange, type RawLine, splitLines } from "./lines.js";
import { chunked } from "./test-helpers.js";

async function all(it: AsyncIterable<RawLine>): Promise<{ line: number; offset: number; text: string }[]> {
  const out = [];
  for await (const l of it) out.push({ line: l.line, offset: l.offset, text: l.bytes.toString("latin1") });
  return out;
}

/** The lines of `data` read as byte ranges of `size`, each from byte start - 1, in `chunk`-byte chunks. */
async function byRanges(data: Buffer, size: number, chunk: number) {
  const out = [];
  let before = 0;
  for (let start = 0; start < data.length; start += size) {
    const end = Math.min(data.length, start + size);
    const from = Math.max(0, start - 1);
    out.push(...(await all(linesOfRange(chunked(data.subarray(from), chunk), { pending: null }, { start, end, linesBefore: before }))));
    before += await countNewlines(chunked(data.subarray(start, end), chunk));
  }
  return out;
}

describe("linesOfRange", () => {
  // Blank lines, CRLF, a line of one byte, a long line, no newline at the end.
  const data = Buffer.from('{"a":1}\n\n\r\nx\n' + "y".repeat(37) + '\n{"b":2}\r\n\n\nlast line without newline', "latin1");

  it("gives, over every split of the file, exactly the lines of the whole file with their numbers and offsets", async () => {
    const whole = await all(splitLines(chunked(data, 5), { pending: null }));
    expect(whole.at(-1)).toEqual({ line: 9, offset: data.length - 25, text: "last line without newline" });
    for (let size = 1; size <= data.length + 1; size++) {
      for (const chunk of [1, 3, 64]) expect(await byRanges(data, size, chunk), `ranges of ${size}, chunks of ${chunk}`).toEqual(whole);
    }
  });

  it("also when the file ends with a newline, and for a range inside one long line", async () => {
    const ended = Buffer.from("one\ntwo\n" + "z".repeat(100) + "\nfour\n");
    const whole = await all(splitLines(chunked(ended), { pending: null }));
    for (let size = 1; size <= ended.length; size++) expect(await byRanges(ended, size, 7)).toEqual(whole);
    // A range that starts and ends inside the long line holds no line.
    expect(await all(linesOfRange(chunked(ended.subarray(19)), { pending: null }, { start: 20, end: 60, linesBefore: 2 }))).toEqual([]);
  });
});
