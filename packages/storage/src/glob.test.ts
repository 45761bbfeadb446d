import { describe, expect, it } from "vitest";
import { globBase, globToRegExp, hasGlob } from "./glob.js";

describe("glob", () => {
  it.each([
    ["/d/*.jsonl", "/d/a.jsonl", true],
    ["/d/*.jsonl", "/d/sub/a.jsonl", false],
    ["/d/*.jsonl", "/d/a.jsonl.gz", false],
    ["/d/*.jsonl*", "/d/a.jsonl.gz", true],
    ["/d/**/*.jsonl", "/d/a.jsonl", true],
    ["/d/**/*.jsonl", "/d/x/y/a.jsonl", true],
    ["/d/**/*.jsonl", "/e/a.jsonl", false],
    ["/d/**", "/d/x/y", true],
    ["/d/shard-?.jsonl", "/d/shard-1.jsonl", true],
    ["/d/shard-?.jsonl", "/d/shard-12.jsonl", false],
    ["/d/?", "/d//", false],
    ["/d/a+b(1).jsonl", "/d/a+b(1).jsonl", true],
    ["/d/a.jsonl", "/d/aXjsonl", false],
  ])("%s matches %s: %s", (pattern, path, expected) => {
    expect(globToRegExp(pattern).test(path)).toBe(expected);
  });

  it("finds the literal directory a pattern starts from", () => {
    expect(globBase("/d/x/*.jsonl")).toBe("/d/x/");
    expect(globBase("/d/x*/a.jsonl")).toBe("/d/");
    expect(globBase("ds/**/*.jsonl")).toBe("ds/");
    expect(globBase("*.jsonl")).toBe("");
    expect(hasGlob("/d/a.jsonl")).toBe(false);
    expect(hasGlob("/d/a?.jsonl")).toBe(true);
  });
});
