import { readFileSync } from "node:fs";
import { join } from "node:path";
import { constants, gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readAll, gz, jsonl } from "./test-helpers.js";

const BAD = join(import.meta.dirname, "../../../test/fixtures/bad");
const bad = (name: string) => readFileSync(join(BAD, name));

describe("readJsonl", () => {
  it("drops malformed JSON and non-objects with line and byte offset, skips blank lines", async () => {
    const data = bad("malformed.jsonl");
    const at = lineStarts(data);
    const { docs, drops, state } = await readAll(data, "file:///x/malformed.jsonl");
    expect(docs.map((d) => [d.doc_id, d.line, d.byte_offset])).toEqual([
      ["ok-1", 1, 0],
      ["ok-3", 3, at[2]],
      ["6", 6, at[5]],
    ]);
    expect(drops).toMatchObject([
      { doc_id: "malformed.jsonl:2", line: 2, byte_offset: at[1], reason: "read:malformed_json" },
      { doc_id: "malformed.jsonl:5", line: 5, byte_offset: at[4], reason: "read:not_an_object", detail: "got array" },
    ]);
    expect(drops[0]!.detail).toMatch(/Unterminated string/);
    // line 4 is blank: neither a document nor a drop
    expect(docs.length + drops.length).toBe(5);
    expect(state.issues).toEqual([]);
    expect(state.bytes_read).toBe(bad("malformed.jsonl").length);
  });

  it("drops invalid UTF-8 and missing or non-string text; falls back to file:line ids", async () => {
    const u = await readAll(bad("invalid_utf8.jsonl"), "invalid_utf8.jsonl");
    const uAt = lineStarts(bad("invalid_utf8.jsonl"));
    expect(u.drops).toMatchObject([{ doc_id: "invalid_utf8.jsonl:2", line: 2, byte_offset: uAt[1], reason: "read:invalid_utf8" }]);
    expect(u.docs.map((d) => d.text)).toEqual(["Valid UTF-8: café.", "Valid again: 日本語."]);

    const m = await readAll(bad("missing_text.jsonl"), "s3://b/k/missing_text.jsonl");
    const mAt = lineStarts(bad("missing_text.jsonl"));
    expect(m.drops).toMatchObject([
      { doc_id: "mt-2", line: 2, byte_offset: mAt[1], reason: "read:missing_text", detail: 'no "text" field' },
      { doc_id: "mt-3", line: 3, byte_offset: mAt[2], reason: "read:missing_text" },
    ]);
    expect(m.docs.map((d) => d.doc_id)).toEqual(["mt-1", "missing_text.jsonl:4"]);
  });

  it("keeps the documents before a gzip truncation and drops the partial line", async () => {
    const data = bad("truncated.jsonl.gz");
    const { docs, drops, state } = await readAll(data, "file:///d/truncated.jsonl.gz");
    expect(docs).toHaveLength(19);
    expect(docs.at(-1)!.doc_id).toBe("t-18");
    expect(drops).toHaveLength(1);
    // What a decompressor can recover from the cut stream: 19 whole lines and a partial 20th.
    const recovered = gunzipSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
    const at = lineStarts(recovered);
    const d = drops[0]!;
    expect(d).toMatchObject({ doc_id: "truncated.jsonl.gz:20", line: 20, byte_offset: at[19], reason: "read:truncated" });
    expect(d.text).toBe(recovered.subarray(at[19]).toString());
    expect(docs.map((x) => x.byte_offset)).toEqual(at.slice(0, 19));
    expect(state.issues).toEqual([
      { file: "file:///d/truncated.jsonl.gz", line: 20, byte_offset: d.byte_offset, reason: "truncated", detail: d.detail },
    ]);
  });

  it("reports an empty file as an input issue with no documents", async () => {
    const { events, state } = await readAll(Buffer.alloc(0), "empty.jsonl");
    expect(events).toEqual([]);
    expect(state.issues).toMatchObject([{ file: "empty.jsonl", reason: "empty_file", line: 0, byte_offset: 0 }]);
    const gzEmpty = await readAll(Buffer.alloc(0), "empty.jsonl.gz");
    expect(gzEmpty.state.issues.map((i) => i.reason)).toEqual(["empty_file"]);
  });

  it("detects gzip by magic bytes and by extension, and honours format", async () => {
    const plain = jsonl({ id: "a", text: "x" }, { id: "b", text: "y" });
    expect((await readAll(gz(plain), "no-extension")).docs).toHaveLength(2);
    expect((await readAll(gz(plain), "a.jsonl.gz", { format: "jsonl" })).drops[0]?.reason).toBe("read:invalid_utf8");
    expect((await readAll(plain, "a.jsonl.gz", { format: "auto" })).state.issues[0]?.reason).toBe("truncated");
  });

  it("gives the same lines, offsets and ids whatever the chunking, with CRLF and custom fields", async () => {
    const data = Buffer.from('{"key": 7, "body": "α\\nβ", "x": 1}\r\n\n{"key": "k2", "body": "😀"}\n{"body": "last, no newline"}');
    const opts = { text_field: "body", id_field: "key" };
    const whole = await readAll(data, "f.jsonl", opts);
    const bytewise = await readAll(data, "f.jsonl", opts, 1);
    expect(bytewise.events).toEqual(whole.events);
    const at = lineStarts(data);
    expect(whole.docs.map((d) => [d.doc_id, d.line, d.byte_offset, d.text, d.fields])).toEqual([
      ["7", 1, 0, "α\nβ", { x: 1 }],
      ["k2", 3, at[2], "😀", {}],
      ["f.jsonl:4", 4, at[3], "last, no newline", {}],
    ]);
  });
});

/** Byte offset of every line start (0, and one past each newline): the oracle for offsets. */
function lineStarts(data: Uint8Array): number[] {
  const starts = [0];
  data.forEach((b, i) => {
    if (b === 0x0a && i + 1 < data.length) starts.push(i + 1);
  });
  return starts;
}
