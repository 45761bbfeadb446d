import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { Binary, Field, Int64, makeVector, Struct, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curateLocal } from "../local.js";
import type { ReadEvent, ReaderOptions, ReadState } from "../reader.js";
import type { InputPart } from "@tokenmill/domain";
import { chunked } from "../test-helpers.js";
import { inputSource, lazyStream, readInput, sniffFormat } from "./index.js";

const ROOT = join(import.meta.dirname, "../../../..");
const SAMPLES = join(ROOT, "data/samples");
const PYTHON = join(ROOT, ".venv/bin/python");
const NAMES = ["c4_redpajama_cc_samples", "openstax_prealgebra_algebra_first100", "thealgorithms_python_first200", "wikitext2_articles_first60"];
/** The variants every sample is written as, besides its .jsonl.gz original. */
const VARIANTS = [".jsonl.zst", ".zstd.parquet", ".snappy.parquet", ".arrow", ".arrows"];

/** Writes Parquet (zstd and snappy, several row groups), Arrow IPC file + stream and zstd JSONL with pyarrow. */
const WRITE_FIXTURES = `
import gzip, json, sys
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.ipc as ipc
src, out = sys.argv[1], sys.argv[2]
raw = gzip.open(src, "rb").read()
table = pa.Table.from_pylist([json.loads(l) for l in raw.splitlines() if l.strip()])
pq.write_table(table, out + ".zstd.parquet", compression="zstd", row_group_size=7)
pq.write_table(table, out + ".snappy.parquet", compression="snappy", row_group_size=16)
with ipc.new_file(out + ".arrow", table.schema) as w: w.write_table(table, max_chunksize=9)
with ipc.new_stream(out + ".arrows", table.schema) as w: w.write_table(table, max_chunksize=9)
with pa.CompressedOutputStream(out + ".jsonl.zst", "zstd") as f: f.write(raw)
`;

/** Bad rows: null / non-string text, bigint ids beyond 2^53, binary, list, struct and timestamp columns. */
const WRITE_BAD = `
import sys, datetime
import pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
table = pa.table({
  "id": pa.array([1, 2**60, 3, 4], pa.int64()),
  "text": pa.array(["one", None, "three", "four"]),
  "blob": pa.array([b"\\x00\\x01", b"", None, b"hi"], pa.binary()),
  "tags": pa.array([["a", "b"], [], None, ["c"]]),
  "info": pa.array([{"k": 1, "v": "x"}, None, {"k": 3, "v": None}, {"k": 4, "v": "y"}]),
  "at": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5)] * 4, pa.timestamp("ms", tz="UTC")),
})
pq.write_table(table, out + ".parquet", row_group_size=3, compression="zstd")
pq.write_table(pa.table({"id": ["x"], "text": pa.array([7], pa.int32())}), out + "-int.parquet")
`;

let tmp: string;

async function python(script: string, ...args: string[]): Promise<void> {
  await promisify(execFile)(PYTHON, ["-c", script, ...args], { cwd: ROOT });
}

async function readFile_(path: string, options: ReaderOptions = {}, opts: { ranges?: boolean; chunk?: number; part?: InputPart } = {}) {
  const data = await readFile(path);
  const state: ReadState = { bytes_read: 0, issues: [] };
  const ranges: [number, number][] = [];
  // The whole input is opened on first read only, as the worker does; `opens` counts how often.
  let opens = 0;
  const whole = lazyStream(async () => {
    opens += 1;
    return chunked(data, opts.chunk ?? 64 * 1024);
  });
  const source = inputSource(whole, {
    ...(opts.ranges
      ? {
          openRange: async (start: number, end: number) => {
            ranges.push([start, end]);
            return chunked(data.subarray(start, end));
          },
          size: data.length,
        }
      : {}),
  });
  const events: ReadEvent[] = [];
  for await (const ev of readInput(source, `file://${path}`, options, state, opts.part)) events.push(ev);
  return { events, state, ranges, size: data.length, opens };
}

/** Nulls removed (a struct column fills keys a JSON object lacked); keys compared unordered by toEqual. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).flatMap(([k, x]) => (x === null ? [] : [[k, dropNulls(x)]])));
  return v;
}

function summary(events: ReadEvent[]) {
  return events.map((e) =>
    e.kind === "doc" ? { id: e.doc.doc_id, text: e.doc.text, fields: dropNulls(e.doc.fields) } : { drop: e.drop.reason, id: e.drop.doc_id },
  );
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-readers-"));
  for (const name of NAMES) {
    await copyFile(join(SAMPLES, `${name}.jsonl.gz`), join(tmp, `${name}.jsonl.gz`));
    await python(WRITE_FIXTURES, join(SAMPLES, `${name}.jsonl.gz`), join(tmp, name));
  }
  await python(WRITE_BAD, join(tmp, "bad"));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("readInput: every format yields the JSONL.gz original's documents", () => {
  for (const name of NAMES) {
    it(name, async () => {
      const original = await readFile_(join(tmp, `${name}.jsonl.gz`));
      expect(original.events.every((e) => e.kind === "doc")).toBe(true);
      const want = summary(original.events);
      for (const variant of VARIANTS) {
        const path = join(tmp, name + variant);
        for (const ranges of [false, true]) {
          const got = await readFile_(path, {}, { ranges, chunk: 1000 });
          expect(summary(got.events), `${variant} ranges=${ranges}`).toEqual(want);
          expect(got.state.issues).toEqual([]);
        }
      }
    });
  }

  it("gives columnar rows their row number as line and byte_offset 0", async () => {
    const { events } = await readFile_(join(tmp, `${NAMES[0]}.zstd.parquet`), {}, { ranges: true });
    const docs = events.flatMap((e) => (e.kind === "doc" ? [e.doc] : []));
    expect(docs.map((d) => d.line)).toEqual(docs.map((_, i) => i + 1));
    expect(docs.every((d) => d.byte_offset === 0)).toBe(true);
    const arrow = await readFile_(join(tmp, `${NAMES[0]}.arrow`));
    expect(arrow.events.map((e) => (e.kind === "doc" ? e.doc.line : -1))).toEqual(docs.map((d) => d.line));
  });

  it("reads Parquet by range: footer and row groups, never the whole file in one fetch", async () => {
    const { ranges, size, state, opens } = await readFile_(join(tmp, `${NAMES[1]}.zstd.parquet`), {}, { ranges: true });
    expect(ranges.length).toBeGreaterThan(2);
    expect(ranges.some(([s, e]) => s === 0 && e === size)).toBe(false);
    expect(ranges[0]).toEqual([0, 64]); // format detection's look at the head: not in bytes_read
    expect(state.bytes_read).toBe(ranges.slice(1).reduce((n, [s, e]) => n + e - s, 0));
    expect(opens).toBe(0);
  });

  it("reads a byte-range part of plain JSONL by range only, and a whole plain JSONL from one stream", async () => {
    const path = join(tmp, "plain.jsonl");
    await writeFile(path, gunzipSync(await readFile(join(SAMPLES, `${NAMES[0]}.jsonl.gz`))));
    const whole = await readFile_(path);
    expect(whole.opens).toBe(1);
    const docs = summary(whole.events);
    // The first part of two: from byte 0 to the middle, then the second with the lines before it.
    const size = (await readFile(path)).length;
    const mid = Math.floor(size / 2);
    const first = await readFile_(path, {}, { ranges: true, part: { kind: "bytes", start: 0, end: mid, lines_before: 0 } });
    const linesBefore = (await readFile(path)).subarray(0, mid).toString("latin1").split("\n").length - 1;
    const second = await readFile_(path, {}, { ranges: true, part: { kind: "bytes", start: mid, end: size, lines_before: linesBefore } });
    expect([first.opens, second.opens]).toEqual([0, 0]);
    expect([...summary(first.events), ...summary(second.events)]).toEqual(docs);
    expect(second.ranges).toEqual([[mid - 1, size]]);
  });

  it('detects the format from magic bytes under "auto" and honours an explicit format', async () => {
    for (const variant of VARIANTS) {
      const path = join(tmp, `${NAMES[0]}${variant}.bin`);
      await copyFile(join(tmp, NAMES[0] + variant), path);
      const got = await readFile_(path);
      expect(got.events.filter((e) => e.kind === "doc"), variant).toHaveLength(50);
    }
    const explicit = { ".jsonl.zst": "jsonl.zst", ".zstd.parquet": "parquet", ".arrows": "arrow" } as const;
    for (const [variant, format] of Object.entries(explicit)) {
      const got = await readFile_(join(tmp, `${NAMES[0]}${variant}.bin`), { format });
      expect(got.events.filter((e) => e.kind === "doc"), variant).toHaveLength(50);
    }
    expect(sniffFormat(new Uint8Array([0x7b, 0x22]))).toBe("jsonl");
  });
});

describe("readInput: bad rows", () => {
  it("drops Parquet rows without string text and makes other columns JSON-safe", async () => {
    const { events } = await readFile_(join(tmp, "bad.parquet"), {}, { ranges: true });
    expect(events.map((e) => e.kind)).toEqual(["doc", "drop", "doc", "doc"]);
    const drop = events[1]!.kind === "drop" ? events[1]!.drop : undefined;
    expect(drop).toEqual({ doc_id: "1152921504606846976", line: 2, byte_offset: 0, reason: "read:missing_text", detail: '"text" is null, not a string' });
    const doc = events[0]!.kind === "doc" ? events[0]!.doc : undefined;
    expect(doc).toMatchObject({ doc_id: "1", text: "one", line: 1, byte_offset: 0 });
    expect(doc!.fields).toEqual({ blob: "AAE=", tags: ["a", "b"], info: { k: 1, v: "x" }, at: "2024-01-02T03:04:05.000Z" });
    expect(JSON.parse(JSON.stringify(doc!.fields))).toEqual(doc!.fields);
    const third = events[2]!.kind === "doc" ? events[2]!.doc : undefined;
    expect(third!.fields).toEqual({ blob: null, tags: null, info: { k: 3, v: null }, at: "2024-01-02T03:04:05.000Z" });
  });

  it("drops rows whose text column is not a string, and every row when there is no text column", async () => {
    const int = await readFile_(join(tmp, "bad-int.parquet"));
    expect(int.events).toEqual([
      { kind: "drop", drop: { doc_id: "x", line: 1, byte_offset: 0, reason: "read:missing_text", detail: '"text" is number, not a string' } },
    ]);
    const other = await readFile_(join(tmp, "bad.parquet"), { text_field: "body", id_field: "nope" });
    expect(other.events.map((e) => (e.kind === "drop" ? `${e.drop.doc_id} ${e.drop.reason} ${e.drop.detail}` : "doc"))).toEqual(
      [1, 2, 3, 4].map((n) => `bad.parquet:${n} read:missing_text no "body" column`),
    );
  });

  it("reads Arrow written by apache-arrow (file and stream) with nulls, bigints, binary and structs", async () => {
    const n = 3;
    const table = new Table({
      id: makeVector({ type: new Int64(), data: new BigInt64Array([10n, 2n ** 62n, 30n]) }),
      text: vectorFromArray(["a", null, "c"], new Utf8()),
      blob: vectorFromArray([new Uint8Array([255]), null, new Uint8Array([1, 2])], new Binary()),
      info: vectorFromArray(
        [{ k: "x" }, { k: "y" }, { k: null }],
        new Struct([new Field("k", new Utf8(), true)]),
      ),
    });
    expect(table.numRows).toBe(n);
    for (const [ext, kind] of [[".arrow", "file"], [".arrows", "stream"]] as const) {
      const path = join(tmp, `js${ext}`);
      await writeFile(path, tableToIPC(table, kind));
      for (const ranges of [false, true]) {
      const { events, state } = await readFile_(path, {}, { chunk: 7, ranges });
      expect(events, `${ext} ranges=${ranges}`).toEqual([
        { kind: "doc", doc: { doc_id: "10", text: "a", line: 1, byte_offset: 0, fields: { blob: "/w==", info: { k: "x" } } } },
        { kind: "drop", drop: { doc_id: "4611686018427387904", line: 2, byte_offset: 0, reason: "read:missing_text", detail: '"text" is null, not a string' } },
        { kind: "doc", doc: { doc_id: "30", text: "c", line: 3, byte_offset: 0, fields: { blob: "AQI=", info: { k: null } } } },
      ]);
      expect(state.issues).toEqual([]);
      }
    }
  });

  it("turns a truncated zstd stream into a truncated issue and keeps what was decoded", async () => {
    const data = await readFile(join(tmp, `${NAMES[1]}.jsonl.zst`));
    const path = join(tmp, "cut.jsonl.zst");
    await writeFile(path, data.subarray(0, Math.floor(data.length / 2)));
    const { events, state } = await readFile_(path, {}, { chunk: 500 });
    expect(state.issues).toHaveLength(1);
    expect(state.issues[0]).toMatchObject({ reason: "truncated" });
    expect(state.issues[0]!.detail).toMatch(/zstd/);
    const docs = events.filter((e) => e.kind === "doc");
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.length).toBeLessThan(100);
    expect(events.at(-1)).toMatchObject({ kind: "drop", drop: { reason: "read:truncated" } });
  });

  it("reports empty Parquet, Arrow and zstd inputs as empty files", async () => {
    for (const name of ["empty.parquet", "empty.arrow", "empty.jsonl.zst"]) {
      await writeFile(join(tmp, name), "");
      const { events, state } = await readFile_(join(tmp, name), {}, { ranges: true });
      expect(events, name).toEqual([]);
      expect(state.issues.map((i) => i.reason), name).toEqual(["empty_file"]);
    }
  });
});

describe("curateLocal over each format", () => {
  const name = NAMES[0]!;
  let base: Awaited<ReturnType<typeof curateLocal>>;
  let baseShards: unknown[];
  const outs: string[] = [];

  async function curate(file: string) {
    const out = await mkdtemp(join(tmpdir(), "tokenmill-readers-out-"));
    outs.push(out);
    const result = await curateLocal({ inputs: [join(tmp, file)], outDir: out });
    const rows: unknown[] = [];
    for (const f of (await readdir(out)).filter((f) => f.endsWith(".arrow")).sort()) {
      for (const row of tableFromIPC(await readFile(join(out, f)))) {
        const r = row.toJSON() as { doc_id: string; tokens: { toArray(): Uint32Array }; num_tokens: number; text: string; meta: string };
        const { file: _file, line: _line, byte_offset: _offset, fields, ...meta } = JSON.parse(r.meta) as Record<string, unknown>;
        rows.push({ doc_id: r.doc_id, tokens: Array.from(r.tokens.toArray()), num_tokens: r.num_tokens, text: r.text, meta, fields: dropNulls(fields) });
      }
    }
    const dropped = gunzipSync(await readFile(join(out, "dropped/task-00000.jsonl.gz"))).toString("utf8");
    return { result, rows, dropped: dropped.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { doc_id: string; reason: string })).map((d) => `${d.doc_id} ${d.reason}`) };
  }

  function comparable(r: Awaited<ReturnType<typeof curateLocal>>) {
    // Input bytes and shard bytes differ by format and provenance (file name, line, byte_offset).
    const { fingerprint: _f, bytes_in: _b, ...stats } = r.stats as unknown as Record<string, unknown>;
    const { bytes: _s, ...totals } = r.manifest.totals;
    return { stats, totals, shards: r.manifest.shards.map((s) => ({ rows: s.rows, tokens: s.tokens })) };
  }

  beforeAll(async () => {
    const b = await curate(`${name}.jsonl.gz`);
    base = b.result;
    baseShards = [b.rows, b.dropped];
  });
  afterAll(async () => {
    for (const out of outs) await rm(out, { recursive: true, force: true });
  });

  for (const variant of VARIANTS) {
    it(`${variant} keeps the same documents, tokens and stats`, async () => {
      const got = await curate(name + variant);
      expect(got.result.stats.docs_kept).toBeGreaterThan(0);
      expect(comparable(got.result)).toEqual(comparable(base));
      expect([got.rows, got.dropped]).toEqual(baseShards);
      expect(got.result.manifest.fingerprint).not.toBe(base.manifest.fingerprint);
    });
  }
});
