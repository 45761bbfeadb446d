import { describe, expect, it } from "vitest";
import { diffPaths, showValue } from "./diff.js";

const spec = (components: Array<Record<string, unknown>>, over: Record<string, unknown> = {}) => ({ seed: 7, seq_len: 128, phases: [{ name: "main", tokens: 8192, components }], ...over });

describe("diffPaths", () => {
  it("names the leaf paths whose values differ, components by name", () => {
    const a = spec([{ name: "web", dataset: "web", weight: 1 }, { name: "code", dataset: "code", weight: 3 }]);
    const b = spec([{ name: "web", dataset: "web", weight: 2 }, { name: "code", dataset: "code", weight: 3 }], { seed: 8 });
    expect(diffPaths(a, b)).toEqual([
      { path: "seed", kind: "changed", a: 7, b: 8 },
      { path: "phases[name=main].components[name=web].weight", kind: "changed", a: 1, b: 2 },
    ]);
  });

  it("ignores the order of named components and reports one whole added or removed element", () => {
    const web = { name: "web", dataset: "web", weight: 1 };
    const code = { name: "code", dataset: "code", weight: 1 };
    const wiki = { name: "wiki", dataset: "wiki", weight: 1, max_epochs: 2 };
    expect(diffPaths(spec([web, code]), spec([code, web]))).toEqual([]);
    expect(diffPaths(spec([web, code]), spec([code, wiki]))).toEqual([
      { path: "phases[name=main].components[name=web]", kind: "removed", a: web, b: undefined },
      { path: "phases[name=main].components[name=wiki]", kind: "added", a: undefined, b: wiki },
    ]);
  });

  it("matches a recipe's mix entries by source", () => {
    const mix = (web: number) => ({ stages: [{ name: "pretrain", phases: [{ name: "p1", mix: [{ source: "web", weight: web }, { source: "math", weight: 40 }] }] }] });
    expect(diffPaths(mix(30), mix(35))).toEqual([{ path: "stages[name=pretrain].phases[name=p1].mix[source=web].weight", kind: "changed", a: 30, b: 35 }]);
  });

  it("compares unnamed arrays by position and a type change as one change", () => {
    expect(diffPaths({ s: [{ at: 0 }, { at: 5 }] }, { s: [{ at: 0 }, { at: 6 }, { at: 9 }] })).toEqual([
      { path: "s[1].at", kind: "changed", a: 5, b: 6 },
      { path: "s[2]", kind: "added", a: undefined, b: { at: 9 } },
    ]);
    expect(diffPaths({ tokens: 10 }, { tokens: { value: 10 } })).toEqual([{ path: "tokens", kind: "changed", a: 10, b: { value: 10 } }]);
    expect(showValue(undefined)).toBe("absent");
    expect(showValue("web")).toBe('"web"');
  });
});
