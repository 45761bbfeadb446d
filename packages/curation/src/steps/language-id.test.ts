import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { parsePipeline, type StepConfig } from "@tokenmill/domain";
import { describe, expect, it } from "vitest";
import type { Doc } from "../types.js";
import { createSteps } from "./registry.js";

async function languageId(params: Record<string, unknown> = {}) {
  const spec = parsePipeline({ version: 1, name: "t", steps: [{ step: "language_id", ...params }, { step: "tokenize" }] });
  return (await createSteps({ ...spec, steps: [spec.steps[0] as StepConfig] }))[0]!;
}
const doc = (text: string, i = 0): Doc => ({ doc_id: `d${i}`, text, line: i + 1, byte_offset: 0, fields: {} });

describe("language_id (fastText lid.176)", () => {
  it("keeps English sample documents and stores language and score", async () => {
    const recs = gunzipSync(readFileSync(new URL("../../../../data/samples/wikitext2_articles_first60.jsonl.gz", import.meta.url)))
      .toString("utf8")
      .split("\n")
      .filter((l) => l.trim())
      .slice(0, 10)
      .map((l, i) => doc((JSON.parse(l) as { text: string }).text, i));
    const out = await (await languageId()).processBatch(recs);
    expect(out.dropped).toHaveLength(0);
    for (const d of out.kept) {
      expect(d.fields.language).toBe("en");
      expect(d.fields.language_score as number).toBeGreaterThan(0.65);
    }
  });

  it("drops other languages with the scores in the detail, and allows a list", async () => {
    const de = "Der schnelle braune Fuchs springt über den faulen Hund und läuft dann weiter in den Wald hinein.";
    const fr = "Le renard brun rapide saute par-dessus le chien paresseux puis continue sa course dans la forêt.";
    const out = await (await languageId()).processBatch([doc(de, 0), doc(fr, 1)]);
    expect(out.kept).toHaveLength(0);
    expect(out.dropped.map((d) => d.reason)).toEqual(["language_id:not_allowed", "language_id:not_allowed"]);
    expect(out.dropped[0]!.detail).toMatch(/^top language de \(0\.\d+\); allowed: en 0\.\d+; min_score 0\.65$/);
    const both = await (await languageId({ languages: ["de", "fr"] })).processBatch([doc(de, 0), doc(fr, 1)]);
    expect(both.kept.map((d) => d.fields.language)).toEqual(["de", "fr"]);
  });

  it("min_score decides on short, ambiguous text; an empty list accepts any confident language", async () => {
    const out = await (await languageId({ min_score: 0.99 })).processBatch([doc("ok")]);
    expect(out.dropped).toHaveLength(1);
    const any = await (await languageId({ languages: [], min_score: 0.5 })).processBatch([doc("Dies ist ein ganz gewöhnlicher deutscher Satz über das Wetter.")]);
    expect(any.kept[0]!.fields.language).toBe("de");
  });
});
