import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { NotFoundError, ValidationError } from "@tokenmill/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3Server, type TestS3Server } from "@tokenmill/testkit";
import { FileStore } from "./file-store.js";
import { openStore } from "./open-store.js";
import { S3Store } from "./s3-store.js";
import type { ObjectStore } from "./store.js";

const MiB = 1024 * 1024;

interface Harness {
  /** A store on a fresh root or prefix, so tests do not see each other's objects. */
  fresh(): Promise<ObjectStore>;
  /** Fails unless `key` in `store` was written with a multipart upload of at least `parts` parts. */
  expectMultipart(store: ObjectStore, key: string, parts: number): void;
}

let s3: TestS3Server;
let tmp: string;

beforeAll(async () => {
  s3 = await startS3Server();
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-filestore-"));
});
afterAll(async () => {
  await s3?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const harnesses: Record<string, Harness> = {
  FileStore: {
    fresh: async () => new FileStore(await mkdtemp(join(tmp, "root-"))),
    expectMultipart: () => {}, // a file has no multipart path
  },
  S3Store: {
    // Two keys per ListObjectsV2 page so every list() test also exercises pagination.
    fresh: async () => new S3Store({ ...s3.options, prefix: `t-${randomBytes(4).toString("hex")}`, listPageSize: 2 }),
    expectMultipart(store, key, parts) {
      const path = `/${s3.bucket}/${store.url(key).slice(`s3://${s3.bucket}/`.length)}`;
      const hits = s3.requests.filter((r) => r.url.split("?")[0] === path);
      expect(hits.filter((r) => r.method === "POST" && /[?&]uploads(=|&|$)/.test(r.url))).toHaveLength(1);
      expect(hits.filter((r) => r.method === "PUT" && /[?&]partNumber=\d+/.test(r.url)).length).toBeGreaterThanOrEqual(parts);
      expect(hits.some((r) => r.method === "PUT" && !r.url.includes("partNumber="))).toBe(false);
    },
  },
};

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `total` bytes in chunks of odd sizes, generated on the fly: a body whose length is unknown. */
function streamOf(total: number, seed: number): { stream: Readable; bytes: Buffer } {
  const bytes = Buffer.alloc(total);
  for (let i = 0; i < total; i += 4) bytes.writeUInt32LE((i * 2654435761 + seed) >>> 0, Math.min(i, total - 4));
  const chunks: Buffer[] = [];
  for (let i = 0; i < total; i += 777_777) chunks.push(bytes.subarray(i, i + 777_777));
  return { stream: Readable.from(chunks), bytes };
}

describe.each(Object.entries(harnesses))("%s contract", (_name, h) => {
  it("puts and gets strings and bytes, overwriting", async () => {
    const store = await h.fresh();
    await store.put("a/b.txt", "hello");
    expect((await store.get("a/b.txt")).toString()).toBe("hello");
    await store.put("a/b.txt", new Uint8Array([1, 2, 3]));
    expect([...(await store.get("a/b.txt"))]).toEqual([1, 2, 3]);
    expect(store.url("a/b.txt")).toBe(`${store.uri}/a/b.txt`);
  });

  it("reads byte ranges [start, end), clipped at the end of the object", async () => {
    const store = await h.fresh();
    await store.put("r", "0123456789");
    expect((await store.getRange("r", 2, 5)).toString()).toBe("234");
    expect((await store.getRange("r", 0, 10)).toString()).toBe("0123456789");
    expect((await store.getRange("r", 7, 100)).toString()).toBe("789");
    expect((await store.getRange("r", 4, 4)).length).toBe(0);
    expect((await store.getRange("r", 10, 12)).length).toBe(0);
    await expect(store.getRange("r", 5, 2)).rejects.toBeInstanceOf(ValidationError);
    await expect(store.getRange("r", -1, 2)).rejects.toBeInstanceOf(ValidationError);
  });

  it("streams an object", async () => {
    const store = await h.fresh();
    await store.put("s.jsonl", '{"text":"x"}\n');
    expect((await readAll(await store.getStream("s.jsonl"))).toString()).toBe('{"text":"x"}\n');
  });

  it("heads an object: size and an etag that changes with the content", async () => {
    const store = await h.fresh();
    await store.put("h", "abc");
    const first = await store.head("h");
    expect(first).toMatchObject({ key: "h", size: 3 });
    expect(first?.etag).toBeTruthy();
    await store.put("h", "abcdef");
    const second = await store.head("h");
    expect(second?.size).toBe(6);
    expect(second?.etag).not.toBe(first?.etag);
    expect(await store.head("missing")).toBeNull();
    expect(await store.head("h/under-a-file")).toBeNull();
  });

  it("lists recursively by prefix, in key order", async () => {
    const store = await h.fresh();
    for (const key of ["b/2", "a", "b/1", "ab", "b/c/3", "c"]) await store.put(key, key);
    expect((await store.list("")).map((o) => o.key)).toEqual(["a", "ab", "b/1", "b/2", "b/c/3", "c"]);
    expect((await store.list("a")).map((o) => o.key)).toEqual(["a", "ab"]);
    expect((await store.list("b/")).map((o) => o.key)).toEqual(["b/1", "b/2", "b/c/3"]);
    expect((await store.list("b/c")).map((o) => o.key)).toEqual(["b/c/3"]);
    expect(await store.list("zzz/")).toEqual([]);
    const [first] = await store.list("b/c/");
    expect(first).toMatchObject({ key: "b/c/3", size: 5 });
    expect(first?.etag).toBe((await store.head("b/c/3"))?.etag);
  });

  it("deletes, and deleting a missing object is not an error", async () => {
    const store = await h.fresh();
    await store.put("d/x", "x");
    await store.delete("d/x");
    expect(await store.head("d/x")).toBeNull();
    expect(await store.list("d/")).toEqual([]);
    await store.delete("d/x");
  });

  it("throws NotFoundError for a missing object", async () => {
    const store = await h.fresh();
    await expect(store.get("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.getRange("nope", 0, 4)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.getRange("nope", 0, 0)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.getStream("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.get("nope")).rejects.toThrow(store.url("nope"));
  });

  it("rejects keys that could escape the root", async () => {
    const store = await h.fresh();
    for (const key of ["../x", "a/../../x", "/etc/passwd", "", "a/./b", "a\\b"]) {
      await expect(store.put(key, "x"), key).rejects.toBeInstanceOf(ValidationError);
      await expect(store.get(key), key).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it("puts a 20 MiB object through multipart upload", async () => {
    const store = await h.fresh();
    const big = randomBytes(20 * MiB);
    await store.put("big.bin", big);
    h.expectMultipart(store, "big.bin", 3); // 16 MiB threshold, 8 MiB parts
    expect((await store.head("big.bin"))?.size).toBe(big.length);
    expect(sha(await store.get("big.bin"))).toBe(sha(big));
    expect(sha(await store.getRange("big.bin", 8 * MiB - 3, 8 * MiB + 5))).toBe(sha(big.subarray(8 * MiB - 3, 8 * MiB + 5)));
  });

  it("putStream writes bodies of unknown length, small and multipart", async () => {
    const store = await h.fresh();
    await store.putStream("small", Readable.from([Buffer.from("ab"), Buffer.from("cd")]));
    expect((await store.get("small")).toString()).toBe("abcd");
    const { stream, bytes } = streamOf(13 * MiB, 7);
    await store.putStream("large", stream);
    h.expectMultipart(store, "large", 2);
    expect(sha(await readAll(await store.getStream("large")))).toBe(sha(bytes));
  });

  it("a failed putStream leaves no object behind", async () => {
    const store = await h.fresh();
    async function* failing() {
      yield Buffer.from("partial data");
      throw new Error("source broke");
    }
    await expect(store.putStream("broken", Readable.from(failing()))).rejects.toThrow("source broke");
    expect(await store.head("broken")).toBeNull();
    expect(await store.list("")).toEqual([]);
  });
});

describe("FileStore specifics", () => {
  it("uses file:// URIs and <size>-<mtimeMs> etags, and leaves no temp files", async () => {
    const root = await mkdtemp(join(tmp, "spec-"));
    const store = new FileStore(root);
    expect(store.uri).toBe(`file://${root}`);
    await store.put("x/y z.jsonl", "12345");
    expect(store.url("x/y z.jsonl")).toBe(`file://${root}/x/y%20z.jsonl`);
    expect((await store.head("x/y z.jsonl"))?.etag).toMatch(/^5-\d+(\.\d+)?$/);
    expect(await readdir(join(root, "x"))).toEqual(["y z.jsonl"]);
  });
});

describe("openStore", () => {
  it("opens a FileStore for file:// URIs and absolute paths", () => {
    const a = openStore("file:///var/lib/tokenmill");
    expect(a).toBeInstanceOf(FileStore);
    expect(a.uri).toBe("file:///var/lib/tokenmill");
    expect(openStore("/var/lib/tokenmill/").uri).toBe("file:///var/lib/tokenmill");
  });

  it("opens an S3Store for s3:// URIs, with or without a prefix", async () => {
    const store = openStore(`s3://${s3.bucket}/nested/prefix/`, s3.options);
    expect(store).toBeInstanceOf(S3Store);
    expect(store.uri).toBe(`s3://${s3.bucket}/nested/prefix`);
    await store.put("k", "v");
    expect((await openStore(`s3://${s3.bucket}`, s3.options).get("nested/prefix/k")).toString()).toBe("v");
  });

  it("rejects other schemes and relative paths with ValidationError", () => {
    for (const uri of ["gs://bucket/x", "http://host/x", "relative/dir", "file://relative"]) {
      expect(() => openStore(uri), uri).toThrow(ValidationError);
    }
    expect(() => openStore("gs://bucket/x")).toThrow(/unsupported store URI "gs:\/\/bucket\/x"/);
  });
});
