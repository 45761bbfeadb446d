import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parsePipeline } from "@tokenmill/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curateLocal } from "./local.js";

const ROOT = join(import.meta.dirname, "../../..");
const SAMPLES = join(ROOT, "data/samples");
const BAD = join(ROOT, "test/fixtures/bad");
const INPUTS = [SAMPLES, BAD];
let dirA: string;
let dirB: string;
let first: Awaited<ReturnType<typeof curateLocal>>;

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

describe("curateLocal", () => {
  beforeAll(async () => {
    dirA = await mkdtemp(join(tmpdir(), "curate-a-"));
    dirB = await mkdtemp(join(tmpdir(), "curate-b-"));
    first = await curateLocal({ inputs: INPUTS, outDir: dirA });
  });
  afterAll(async () => {
    await rm(dirA, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  });

  it("writes the documented layout with consistent totals", async () => {
    const { manifest, stats } = first;
    const files = await filesOf(dirA);
    expect(files.filter((f) => f.startsWith("dropped/"))).toHaveLength(10);
    expect(files.filter((f) => f.endsWith(".arrow"))).toEqual(manifest.shards.map((s) => s.file));
    expect(files).toContain("manifest.json");
    expect(files).toContain("stats.json");
    expect(JSON.parse(await readFile(join(dirA, "stats.json"), "utf8"))).toEqual(stats);
    expect(manifest.totals.rows).toBe(stats.docs_kept);
    expect(manifest.totals.tokens).toBe(stats.tokens_kept);
    expect(stats.docs_in).toBe(stats.docs_kept + Object.values(stats.dropped_total).reduce((a, b) => a + b, 0));
    expect(manifest.inputs).toHaveLength(10);
    expect(manifest.inputs[0]!.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("is byte-identical across runs into different folders", async () => {
    const second = await curateLocal({ inputs: INPUTS, outDir: dirB });
    expect(second.manifest.fingerprint).toBe(first.manifest.fingerprint);
    const files = await filesOf(dirA);
    expect(await filesOf(dirB)).toEqual(files);
    for (const f of files) {
      expect((await readFile(join(dirB, f))).equals(await readFile(join(dirA, f))), f).toBe(true);
    }
  });

  it("changes the fingerprint when the pipeline changes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "curate-c-"));
    try {
      const spec = parsePipeline({ version: 1, name: "other", steps: [{ step: "tokenize", min_tokens: 5 }] });
      const { manifest } = await curateLocal({ inputs: [join(BAD, "special_tokens.jsonl")], outDir: dir, spec });
      expect(manifest.fingerprint).not.toBe(first.manifest.fingerprint);
      expect(manifest.pipeline.name).toBe("other");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("passes the pyarrow + Python tokenizers check", async () => {
    const { stdout } = await promisify(execFile)(join(ROOT, ".venv/bin/python"), [join(ROOT, "test/python/check_shards.py"), dirA], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; message: string }) => {
      throw new Error(`check_shards.py failed: ${err.stdout ?? ""} ${err.message}`);
    });
    const summary = JSON.parse(stdout);
    expect(summary.errors).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.manifest_checked).toBe(true);
    expect(summary.rows).toBe(first.manifest.totals.rows);
    expect(summary.rows_retokenized).toBe(summary.rows);
    expect(summary.mismatched_rows).toBe(0);
    expect(summary.special_token_text_rows).toEqual(["sp-1", "sp-2"]);
    expect(summary.special_ids_in_tokens).toBe(0);
    expect(summary.vocab_sha256).toBe(first.manifest.tokenizer.vocab_sha256);
    expect(summary.fingerprints).toEqual([first.manifest.fingerprint]);
  });
});
