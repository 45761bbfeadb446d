import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { tableToIPC, tableFromArrays } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curateLocal } from "../local.js";
import type { ReaderOptions, ReadState } from "../reader.js";
import { chunked } from "../test-helpers.js";
import { BadInputError, inputSource, readInput } from "./index.js";

/**
 * A file whose name lies about its bytes: with format "auto" the real format is read (its good
 * documents kept, the name recorded as an input issue), with an explicit format, or bytes that are
 * no format at all under a binary name, the read fails naming the file. Never "0 documents, ok".
 */
const ROOT = join(import.meta.dirname, "../../../..");
const PYTHON = join(ROOT, ".venv/bin/python");
const DOCS = Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, text: `Document number ${i} has a few words in it.` }));
const PLAIN = Buffer.from(DOCS.map((d) => JSON.stringify(d)).join("\n") + "\n");
const GARBAGE = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 3) % 256).map((b) => (b === 0x7b ? 0 : b)));

let tmp: string;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-misnamed-"));
  const zst = join(tmp, "src.zst");
  const parquet = join(tmp, "src.parquet");
  await writeFile(join(tmp, "src.jsonl"), PLAIN);
  const script = `
import sys, json, pyarrow as pa, pyarrow.parquet as pq
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pq.write_table(pa.Table.from_pylist(rows), sys.argv[2])
with pa.CompressedOutputStream(sys.argv[3], "zstd") as f: f.write(open(sys.argv[1], "rb").read())
`;
  await promisify(execFile)(PYTHON, ["-c", script, join(tmp, "src.jsonl"), parquet, zst], { cwd: ROOT });
  const arrow = Buffer.from(tableToIPC(tableFromArrays({ id: DOCS.map((d) => d.id), text: DOCS.map((d) => d.text) }), "file"));
  Object.assign(files, { plain: PLAIN, gzip: gzipSync(PLAIN), zstd: await readFile(zst), parquet: await readFile(parquet), arrow, garbage: GARBAGE });
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function read(data: Buffer, name: string, options: ReaderOptions = {}, ranges = false) {
  const state: ReadState = { bytes_read: 0, issues: [] };
  const source = inputSource(chunked(data, 1000), ranges ? { openRange: async (s, e) => chunked(data.subarray(s, e)), size: data.length } : {});
  let docs = 0;
  for await (const ev of readInput(source, `file:///data/${name}`, options, state)) if (ev.kind === "doc") docs += 1;
  return { docs, issues: state.issues };
}

// [bytes, name it is given, format it is read as]
const MISNAMED: [string, string, string][] = [
  ["plain", "a.jsonl.gz", "plain JSONL"],
  ["plain", "a.jsonl.zst", "plain JSONL"],
  ["gzip", "a.jsonl", "gzip"],
  ["zstd", "a.jsonl.gz", "zstd"],
  ["parquet", "a.arrow", "Parquet"],
  ["arrow", "a.parquet", "Arrow IPC"],
];

describe('format "auto": the bytes win over the name', () => {
  for (const [bytes, name, as] of MISNAMED) {
    it(`${bytes} named ${name}: all 5 documents kept, the name reported`, async () => {
      for (const ranges of [false, true]) {
        const got = await read(files[bytes]!, name, {}, ranges);
        expect(got.docs, `ranges=${ranges}`).toBe(5);
        expect(got.issues).toHaveLength(1);
        expect(got.issues[0]).toMatchObject({ file: `file:///data/${name}`, reason: "format_mismatch" });
        expect(got.issues[0]!.detail).toContain(`read as ${as} despite its name`);
      }
    });
  }

  for (const name of ["a.arrow", "a.parquet", "a.jsonl.gz", "a.jsonl.zst"]) {
    it(`garbage named ${name} fails naming the file and its bytes`, async () => {
      const err = await read(GARBAGE, name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadInputError);
      expect((err as Error).message).toMatch(new RegExp(`^file:///data/${name.replace(/\./g, "\\.")}: named as .*, but the file's bytes are binary data \\(first bytes 03 28 4d`));
    });
  }

  it("Arrow magic followed by garbage fails as bad input naming the file, not a bare apache-arrow message", async () => {
    const bad = Buffer.concat([Buffer.from("ARROW1\0\0"), GARBAGE]);
    const err = await read(bad, "a.arrow").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(/^file:\/\/\/data\/a\.arrow: not readable as Arrow IPC: /);
  });

  it("Parquet magic without a footer fails as bad input naming the file", async () => {
    const err = await read(Buffer.concat([Buffer.from("PAR1"), GARBAGE]), "a.parquet", {}, true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(/^file:\/\/\/data\/a\.parquet: cannot read its Parquet footer/);
  });
});

describe("an explicit format the bytes contradict fails naming the file", () => {
  const cases: [string, ReaderOptions["format"], RegExp][] = [
    ["plain", "jsonl.gz", /the source's format is jsonl\.gz, but the file's bytes are plain JSONL \(first bytes 7b 22 69 64/],
    ["gzip", "jsonl", /the source's format is jsonl, but the file's bytes are gzip \(first bytes 1f 8b/],
    ["parquet", "arrow", /the source's format is arrow, but the file's bytes are Parquet/],
    ["garbage", "parquet", /the source's format is parquet, but the file's bytes are binary data/],
  ];
  for (const [bytes, format, message] of cases) {
    it(`${bytes} read as ${format}`, async () => {
      const err = await read(files[bytes]!, "a.data", { format }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadInputError);
      expect((err as Error).message.startsWith("file:///data/a.data: ")).toBe(true);
      expect((err as Error).message).toMatch(message);
    });
  }
  it("the right explicit format reads every document whatever the name", async () => {
    expect((await read(files.gzip!, "a.parquet", { format: "jsonl.gz" })).docs).toBe(5);
  });
});

describe("curate local", () => {
  it("keeps the documents of a plain JSONL named .jsonl.gz and records the name in stats.json", async () => {
    const dir = await mkdtemp(join(tmp, "in-"));
    await writeFile(join(dir, "plain.jsonl.gz"), PLAIN);
    const out = await mkdtemp(join(tmp, "out-"));
    const { stats } = await curateLocal({ inputs: [dir], outDir: out });
    expect(stats.docs_in).toBe(5);
    expect(stats.docs_kept).toBe(5);
    expect(stats.input_issues.map((i) => i.reason)).toEqual(["format_mismatch"]);
  });

  it("fails naming the file for non-Arrow bytes named .arrow", async () => {
    const dir = await mkdtemp(join(tmp, "in-"));
    await writeFile(join(dir, "bad.arrow"), GARBAGE);
    const out = await mkdtemp(join(tmp, "out-"));
    await expect(curateLocal({ inputs: [dir], outDir: out })).rejects.toThrow(new RegExp(`file://${dir}/bad\\.arrow: named as Arrow IPC`));
  });
});
