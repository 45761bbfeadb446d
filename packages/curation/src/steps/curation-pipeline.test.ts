import { createReadStream } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parsePipeline } from "@tokenmill/domain";
import { describe, expect, it } from "vitest";
import { mergeTaskResults } from "../results.js";
import { runTask } from "../run-task.js";
import { MemStore } from "../test-helpers.js";

const ROOT = join(import.meta.dirname, "../../../..");

describe("the new steps in the engine", () => {
  it("runs normalize → language_id → filters → pii → decontaminate → tokenize with counts, counters and dropped records", async () => {
    const spec = parsePipeline({
      version: 1,
      name: "web",
      steps: [
        { step: "normalize" },
        { step: "language_id" },
        { step: "gopher_repetition" },
        { step: "gopher_quality" },
        { step: "c4_quality" },
        { step: "fineweb_quality" },
        { step: "pii" },
        { step: "decontaminate" },
        { step: "tokenize" },
      ],
    });
    const store = new MemStore();
    const f = "data/samples/c4_redpajama_cc_samples.jsonl.gz";
    const r = await runTask({ input: createReadStream(join(ROOT, f)), uri: `file:///${f}`, source: "t", taskIndex: 0, spec, fingerprint: "fp", store, prefix: "" });
    expect(r.steps.map((s) => s.step)).toEqual(["read", ...spec.steps.map((s) => s.step)]);
    const dropped = r.steps.reduce((n, s) => n + Object.values(s.dropped).reduce((a, b) => a + b, 0), 0);
    expect(r.docs_in).toBe(r.docs_kept + dropped);
    for (const s of r.steps) {
      for (const reason of Object.keys(s.dropped)) expect(reason.startsWith(`${s.step}:`), reason).toBe(true);
    }
    const c4 = r.steps.find((s) => s.step === "c4_quality")!;
    expect(Object.keys(c4.counters ?? {}).some((k) => k.startsWith("lines_dropped:"))).toBe(true);
    expect(r.steps.find((s) => s.step === "pii")!.counters).toHaveProperty("emails_masked");
    const lines = gunzipSync(store.objects.get("dropped/task-00000.jsonl.gz")!)
      .toString()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { step: string; reason: string; detail?: string });
    expect(lines).toHaveLength(dropped);
    expect(lines.filter((l) => l.step === "gopher_quality").every((l) => /\d/.test(l.detail ?? ""))).toBe(true);
    // Counters survive merging task results into stats.json.
    const stats = mergeTaskResults("fp", [r, r]);
    expect(stats.steps.find((s) => s.step === "c4_quality")!.counters).toEqual(
      Object.fromEntries(Object.entries(c4.counters!).map(([k, v]) => [k, 2 * v] as const).sort((x, y) => (x[0] < y[0] ? -1 : 1))),
    );
  });
});
