import { describe, expect, it } from "vitest";
import { largestRemainder, planMixture, type DatasetInfo, type MixtureSpec } from "./plan.js";

const ds = (key: string, tokens: number, rows = 100, tokenizer = "llama3"): DatasetInfo => ({ key, name: key, fingerprint: `fp-${key}`, tokenizer, tokens, rows, shards: 1 });
const data: Record<string, DatasetInfo> = { a: ds("a", 1_000_000), b: ds("b", 50_000), c: ds("c", 9_900, 100) };
const resolve = (ref: string) => data[ref]!;
const plan = (spec: Partial<MixtureSpec> & Pick<MixtureSpec, "phases">) => planMixture({ seed: 1, seq_len: 100, tokenizer: "llama3", block_size: 10, ...spec }, resolve);

describe("largestRemainder", () => {
  it("is exact, deterministic and ties go to the earlier index", () => {
    expect(largestRemainder(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(largestRemainder(7, [0.5, 0.25, 0.25])).toEqual([3, 2, 2]); // remainders .5 < .75 = .75
    expect(largestRemainder(1000, [63.75, 36.26]).reduce((a, b) => a + b)).toBe(1000);
  });
});

describe("planMixture", () => {
  it("normalizes weight, repeat and tokens to whole-sequence budgets", () => {
    // c packs 9,900 + 100 EOS = 10,000 tokens → 99 sequences of 100 (+1 target) per pass.
    const p = plan({ phases: [{ name: "p", tokens: 100 * 1000, components: [
      { name: "a", dataset: "a", weight: 1 }, { name: "b", dataset: "b", tokens: 20_000 }, { name: "c", dataset: "c", repeat: 2 }] }] });
    const [a, b, c] = p.phases[0]!.components;
    expect([a!.sequences, b!.sequences, c!.sequences]).toEqual([1000 - 200 - 198, 200, 198]);
    expect(c!.epochs).toBe(2);
    expect(p.phases[0]!.sequences).toBe(1000);
    expect(p.fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });

  it("a repeated dataset continues its stream across phases and counts cumulative epochs", () => {
    const p = plan({ phases: [
      { name: "one", tokens: 100 * 100, components: [{ name: "c", dataset: "c", weight: 1 }] },
      { name: "two", tokens: 100 * 100, components: [{ name: "c", dataset: "c", weight: 1 }] },
    ] });
    expect(p.phases[1]!.segments[0]!.offsets).toEqual([100]);
    expect(p.phases[1]!.components[0]!.cumulative_epochs).toBeCloseTo(200 / 99, 12);
  });

  it("rejects an over-repeated dataset with the numbers", () => {
    expect(() => plan({ phases: [{ name: "p", tokens: 100 * 10_000, components: [{ name: "c", dataset: "c", weight: 1, max_epochs: 100 }] }] })).toThrow(
      /c: 1,000,000 tokens is 101\.01 passes over c \(9,900 tokens per packed pass\); max_epochs is 100/,
    );
  });

  it.each([
    [{ tokens: Number.NaN }, "phases[0].tokens", /finite/],
    [{ components: [{ name: "x", dataset: "a", weight: Number.NaN }] }, "phases[0].components[0].weight", /finite/],
    [{ components: [{ name: "x", dataset: "a", weight: 1, repeat: 1 }] }, "phases[0].components[0]", /exactly one/],
    [{ components: [{ name: "a", dataset: "a", weight: 1e308 }, { name: "b", dataset: "a", weight: 1e308 }] }, "phases[0].components", /finite/],
    [{ tokens: 1e308 }, "phases[0].tokens", /at most/],
    [{ components: [{ name: "x", dataset: "a", tokens: 1e9 }] }, "phases[0].tokens", /more than the phase/],
    [{ schedule: [{ start_tokens: 1500, weights: { a: 1 } }] }, "phases[0].schedule[0].start_tokens", /not a block boundary.*1,000 or 2,000/],
    [{ schedule: [{ start_tokens: 1000, weights: { zz: 1 } }] }, "phases[0].schedule[0].weights.zz", /unknown component/],
  ])("rejects %j naming %s", (over, field, message) => {
    const phase = { name: "p", tokens: 100 * 100, components: [{ name: "a", dataset: "a", weight: 1 }], ...over };
    let err: any;
    try {
      plan({ phases: [phase as never] });
    } catch (e) {
      err = e;
    }
    expect(err?.field).toBe(field);
    expect(err?.message).toMatch(message);
  });
});
