import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePipelineText } from "@tokenmill/domain";
import { expect, it } from "vitest";
import { curateLocal } from "../local.js";

const ROOT = join(import.meta.dirname, "../../../..");

// Inputs are copied to a fixed folder first: provenance (and so the fingerprint and the bytes)
// names each input by its absolute file:// URI, which must not depend on where the repository is.
const INPUTS = join(tmpdir(), "tokenmill-golden-inputs", "samples");

// sha256 of every file of `tokenmill curate local --input $INPUTS --out DIR --pipeline
// examples/pipelines/sample.yaml`, recorded before the multi-pass dedup engine existed: a pipeline
// without dedup steps must still produce exactly these bytes. A deliberate format change updates them.
// Updated once since, when output.split_bytes joined the pipeline: the pipeline hash, hence the
// fingerprint that manifest, stats and shard metadata carry, changed; the dropped files (which do
// not carry it) and every row are as before.
const BEFORE_DEDUP: Record<string, string> = {
  "manifest.json": "0907a010b5b38fc1b6975ff734dbec3c56fa5228a481cec63ef27646042f2beb",
  "shard-00000-0000.arrow": "9108be4ddc7917967b15f35b374d1335823c6a57db5e241dfa9dd9d9add38484",
  "shard-00001-0000.arrow": "0fffa8f6d27bf3f3ebbd552a8555ea0f79a8e0769987e223516b1d038a75d376",
  "shard-00002-0000.arrow": "1420ed4b2a82360676ae69422ff6d79944079a3f7f0d9badcd3e7b62b36e8dbb",
  "shard-00003-0000.arrow": "88c0634dc872c069160249f035345101962a1bbb08904303b2058f46bcab2840",
  "stats.json": "ac80c148c6273ef6109a2b44cd656025ea61d005625031f792ecf674e3026415",
  "dropped/task-00000.jsonl.gz": "2398e70b4a532d755e9880fe0a4948299345debd55d4cb4c2091167fdc7cb8a6",
  "dropped/task-00001.jsonl.gz": "ac73670af3abed54ac6fb4695131f4099be9fbe39d6076c5d0264a6bbdae9d83",
  "dropped/task-00002.jsonl.gz": "ac73670af3abed54ac6fb4695131f4099be9fbe39d6076c5d0264a6bbdae9d83",
  "dropped/task-00003.jsonl.gz": "ac73670af3abed54ac6fb4695131f4099be9fbe39d6076c5d0264a6bbdae9d83",
};

it("a pipeline without dedup steps writes the same bytes as before the dedup engine", async () => {
  const out = await mkdtemp(join(tmpdir(), "no-dedup-"));
  try {
    const spec = parsePipelineText(await readFile(join(ROOT, "examples/pipelines/sample.yaml"), "utf8"));
    await rm(INPUTS, { recursive: true, force: true });
    await cp(join(ROOT, "data/samples"), INPUTS, { recursive: true });
    await curateLocal({ inputs: [INPUTS], outDir: out, spec, sourceName: "local" });
    const got: Record<string, string> = {};
    for (const e of await readdir(out, { withFileTypes: true, recursive: true })) {
      if (e.isFile()) got[join(e.parentPath, e.name).slice(out.length + 1)] = createHash("sha256").update(await readFile(join(e.parentPath, e.name))).digest("hex");
    }
    expect(got).toEqual(BEFORE_DEDUP);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
