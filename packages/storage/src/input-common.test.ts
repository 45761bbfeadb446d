import { describe, expect, it } from "vitest";
import { isDataFileName } from "./input-common.js";

describe("isDataFileName", () => {
  it("picks up JSONL (plain, gzip, zstd), Parquet and Arrow IPC files", () => {
    for (const name of ["a.jsonl", "dir/b.jsonl.gz", "c.jsonl.zst", "s3/prefix/d.parquet", "e.arrow", "f.arrows"]) {
      expect(isDataFileName(name), name).toBe(true);
    }
  });

  it("skips everything else", () => {
    for (const name of ["notes.txt", "a.json", "a.jsonl.bz2", "a.gz", "a.zst", "a.parquet.tmp", "a.arrow.crc", "jsonl", "a.feather"]) {
      expect(isDataFileName(name), name).toBe(false);
    }
  });
});
