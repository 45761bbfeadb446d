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

  it("matches phases by position when the two documents name them differently", () => {
    const a = { phases: [{ name: "warmup", tokens: 10 }, { name: "main", tokens: 40 }] };
    const b = { phases: [{ name: "stage-1", tokens: 10 }, { name: "stage-2", tokens: 50 }] };
    expect(diffPaths(a, b)).toEqual([
      { path: "phases[0].name", kind: "changed", a: "warmup", b: "stage-1" },
      { path: "phases[1].name", kind: "changed", a: "main", b: "stage-2" },
      { path: "phases[1].tokens", kind: "changed", a: 40, b: 50 },
    ]);
  });

  it("shows dataset ids by the names it is given", () => {
    const id = "0b5e4a36-6c1e-4f7e-9a55-2b1f3c9d8e70";
    expect(showValue({ dataset: id, weight: 1 }, new Map([[id, "web · 3fa2b1c0"]]))).toBe('{"dataset":"web · 3fa2b1c0","weight":1}');
    expect(showValue(id.toUpperCase(), new Map([[id, "web"]]))).toBe('"web"');
    expect(showValue(id)).toBe(`"${id}"`);
  });
});
