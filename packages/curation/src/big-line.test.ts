import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DEFAULT_PIPELINE } from "@tokenmill/domain";
import { expect, it } from "vitest";
import { runTask } from "./run-task.js";
import { MemStore } from "./test-helpers.js";
import { loadTokenizer } from "./tokenizer.js";

// Its own file so the worker's peak RSS reflects this test alone.
it("reads a single 50 MB line and drops it as too long, in bounded memory", async () => {
  const dir = await mkdtemp(join(tmpdir(), "big-line-"));
  const LINE = 50 * 1024 * 1024;
  try {
    const path = join(dir, "big.jsonl");
    const prefix = '{"id": "big", "text": "';
    const body = Buffer.alloc(LINE - prefix.length - 3, "ab ");
    await writeFile(path, Buffer.concat([Buffer.from(prefix), body, Buffer.from('"}\n'), Buffer.from('{"id": "small", "text": "tiny"}\n')]));
    await loadTokenizer("llama3"); // ~200 MB of its own, loaded once per process; not the reader's
    const before = process.memoryUsage().rss;
    const store = new MemStore();
    const r = await runTask({
      input: createReadStream(path, { highWaterMark: 64 * 1024 }),
      uri: `file://${path}`,
      source: "test",
      taskIndex: 0,
      spec: DEFAULT_PIPELINE,
      fingerprint: "fp",
      store,
      prefix: "",
    });
    const peak = process.resourceUsage().maxRSS * 1024;
    expect(r.docs_in).toBe(2);
    expect(r.docs_kept).toBe(1);
    expect(r.steps.find((s) => s.step === "length")!.dropped).toEqual({ "length:too_long": 1 });
    const dropped = JSON.parse(gunzipSync(store.objects.get("dropped/task-00000.jsonl.gz")!).toString());
    expect(dropped).toMatchObject({ doc_id: "big", reason: "length:too_long", line: 1, byte_offset: 0 });
    expect(dropped.text_head).toHaveLength(1000);
    // Pending chunks + joined line + decoded string + parsed string + normalized copy: measured
    // +331 MiB (6.6× the line) on 2026-11-21; 10× leaves room for GC slack, and a reader that held
    // several copies per chunk or buffered the whole input twice would exceed it.
    expect(peak - before).toBeLessThan(10 * LINE);
    console.log(`50 MB line: peak RSS ${Math.round(peak / 2 ** 20)} MiB, +${Math.round((peak - before) / 2 ** 20)} MiB over the start`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
