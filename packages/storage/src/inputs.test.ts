import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { UnreachableError, ValidationError } from "@tokenmill/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFileServer, startS3Server, type TestFileServer, type TestS3Server } from "@tokenmill/testkit";
import { type InputOptions, listInputs, NOT_REACHABLE, openInput, sha256OfInput, type SourcePolicy } from "./index.js";
import { S3Store } from "./s3-store.js";

/** The dataset every source kind serves: relative path → content. */
const FILES: Record<string, Buffer> = {
  "a.jsonl": Buffer.from('{"text":"alpha"}\n{"text":"beta"}\n'),
  "b.jsonl.gz": gzipSync('{"text":"gamma"}\n'),
  "notes.txt": Buffer.from("not data"),
  "sub/c.jsonl": Buffer.from('{"text":"c"}\n'),
  "sub/deeper/d.jsonl": Buffer.from('{"text":"d"}\n'),
};
const DATA_FILES = ["a.jsonl", "b.jsonl.gz", "sub/c.jsonl", "sub/deeper/d.jsonl"];

let tmp: string;
let dir: string;
let s3: TestS3Server;
let s3opts: InputOptions;
/** File sources need their folder named as a root; loopback http servers need an allowlist entry. */
let fileOpts: InputOptions;
const httpOpts: InputOptions = { policy: { fileRoots: [], httpAllow: ["127.0.0.1"] } satisfies SourcePolicy };
let http: TestFileServer;
/** Accepts connections and never answers: the "hung server" case. */
let silent: Server;
let silentUrl: string;
/** A loopback port nothing listens on (fetch refuses port 1 itself as a "bad port"). */
let closedPort: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-inputs-"));
  dir = join(tmp, "data");
  fileOpts = { policy: { fileRoots: [tmp], httpAllow: [] } };
  await mkdir(join(tmp, "empty"));
  for (const [rel, body] of Object.entries(FILES)) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), body);
  }
  s3 = await startS3Server();
  s3opts = { s3: s3.options };
  const store = new S3Store({ ...s3.options, prefix: "ds" });
  for (const [rel, body] of Object.entries(FILES)) await store.put(rel, body);
  http = await startFileServer(dir);
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const address = silent.address();
  silentUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await http?.close();
  await s3?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("latin1");
}

function sha(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Asserts an UnreachableError whose message names the URI and matches `cause`. */
async function expectUnreachable(promise: Promise<unknown>, uri: string, cause: RegExp): Promise<void> {
  const err = await promise.then(
    () => expect.unreachable("expected UnreachableError"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnreachableError);
  expect((err as UnreachableError).uri).toBe(uri);
  expect((err as Error).message).toContain(`${uri} is unreachable: `);
  expect((err as Error).message).toMatch(cause);
}

describe("file inputs", () => {
  it("lists every *.jsonl and *.jsonl.gz below a directory, sorted, with sizes and etags", async () => {
    const files = await listInputs(`file://${dir}/`, fileOpts);
    expect(files.map((f) => f.uri)).toEqual(DATA_FILES.map((rel) => `file://${dir}/${rel}`));
    expect(files.map((f) => f.size)).toEqual(DATA_FILES.map((rel) => FILES[rel]?.length));
    for (const f of files) expect(f.etag).toMatch(/^\d+-\d+/);
    expect(await listInputs(dir, fileOpts)).toEqual(files); // a plain absolute path works too
  });

  it("lists one file", async () => {
    const files = await listInputs(`file://${dir}/notes.txt`, fileOpts);
    expect(files).toEqual([{ uri: `file://${dir}/notes.txt`, size: 8, etag: expect.stringMatching(/^8-/) }]);
  });

  it("expands globs: *, ** and ?", async () => {
    const rel = async (pattern: string) =>
      (await listInputs(`file://${dir}/${pattern}`, fileOpts)).map((f) => f.uri.slice(`file://${dir}/`.length));
    expect(await rel("*.jsonl")).toEqual(["a.jsonl"]);
    expect(await rel("*")).toEqual(["a.jsonl", "b.jsonl.gz", "notes.txt"]);
    expect(await rel("**/*.jsonl")).toEqual(["a.jsonl", "sub/c.jsonl", "sub/deeper/d.jsonl"]);
    expect(await rel("sub/?.jsonl")).toEqual(["sub/c.jsonl"]);
  });

  it("opens a file whole or by byte range, and hashes it", async () => {
    const uri = `file://${dir}/a.jsonl`;
    expect(await readAll(await openInput(uri, fileOpts))).toBe(FILES["a.jsonl"]?.toString());
    expect(await readAll(await openInput(uri, fileOpts, { start: 2, end: 6 }))).toBe("text");
    expect(await readAll(await openInput(uri, fileOpts, { start: 3, end: 3 }))).toBe("");
    expect(await sha256OfInput(uri, fileOpts)).toBe(sha(await readFile(join(dir, "a.jsonl"))));
  });

  it("reports missing paths, empty directories and unmatched globs as unreachable", async () => {
    const missing = `file://${tmp}/nope`;
    await expectUnreachable(listInputs(missing, fileOpts), missing, /ENOENT/);
    await expectUnreachable(openInput(missing, fileOpts), missing, /ENOENT/);
    await expectUnreachable(sha256OfInput(missing, fileOpts), missing, /ENOENT/);
    await expectUnreachable(listInputs(`file://${tmp}/empty`, fileOpts), `file://${tmp}/empty`, /no data files \(\*\.jsonl, \*\.jsonl\.gz, \*\.jsonl\.zst, \*\.parquet, \*\.arrow\) in the directory/);
    await expectUnreachable(listInputs(`file://${dir}/*.parquet`, fileOpts), `file://${dir}/*.parquet`, /no files match/);
    await expectUnreachable(listInputs(`file://${tmp}/nope/*.jsonl`, fileOpts), `file://${tmp}/nope/*.jsonl`, /ENOENT/);
    await expectUnreachable(openInput(`file://${dir}/sub`, fileOpts), `file://${dir}/sub`, /EISDIR/);
  });

  it("rejects unsupported schemes with ValidationError", async () => {
    await expect(listInputs("ftp://host/file.jsonl", fileOpts)).rejects.toBeInstanceOf(ValidationError);
    await expect(openInput("relative/file.jsonl")).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("s3 inputs", () => {
  it("lists the *.jsonl and *.jsonl.gz objects under a prefix, with or without the trailing slash", async () => {
    const files = await listInputs(`s3://${s3.bucket}/ds/`, s3opts);
    expect(files.map((f) => f.uri)).toEqual(DATA_FILES.map((rel) => `s3://${s3.bucket}/ds/${rel}`));
    expect(files.map((f) => f.size)).toEqual(DATA_FILES.map((rel) => FILES[rel]?.length));
    expect(files[0]?.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(await listInputs(`s3://${s3.bucket}/ds`, s3opts)).toEqual(files);
  });

  it("lists one object, and globs over keys", async () => {
    const one = await listInputs(`s3://${s3.bucket}/ds/notes.txt`, s3opts);
    expect(one).toEqual([{ uri: `s3://${s3.bucket}/ds/notes.txt`, size: 8, etag: expect.any(String) }]);
    const globbed = await listInputs(`s3://${s3.bucket}/ds/**/?.jsonl`, s3opts);
    expect(globbed.map((f) => f.uri)).toEqual([`s3://${s3.bucket}/ds/a.jsonl`, `s3://${s3.bucket}/ds/sub/c.jsonl`, `s3://${s3.bucket}/ds/sub/deeper/d.jsonl`]);
  });

  it("opens an object whole or by byte range, and hashes it", async () => {
    const uri = `s3://${s3.bucket}/ds/b.jsonl.gz`;
    const bytes = FILES["b.jsonl.gz"] as Buffer;
    expect(await readAll(await openInput(uri, s3opts))).toBe(bytes.toString("latin1"));
    expect(await readAll(await openInput(uri, s3opts, { start: 1, end: 4 }))).toBe(bytes.subarray(1, 4).toString("latin1"));
    expect(await sha256OfInput(uri, s3opts)).toBe(sha(bytes));
  });

  it("reports missing objects, missing buckets, empty prefixes and refused connections as unreachable", async () => {
    const missing = `s3://${s3.bucket}/ds/nope.jsonl`;
    await expectUnreachable(listInputs(missing, s3opts), missing, /NoSuchKey/);
    await expectUnreachable(openInput(missing, s3opts), missing, /NoSuchKey/);
    const noBucket = "s3://no-such-bucket/x/";
    await expectUnreachable(listInputs(noBucket, s3opts), noBucket, /NoSuchBucket/);
    const empty = `s3://${s3.bucket}/nothing-here/`;
    await expectUnreachable(listInputs(empty, s3opts), empty, /no data objects \(\*\.jsonl, \*\.jsonl\.gz, \*\.jsonl\.zst, \*\.parquet, \*\.arrow\) under the prefix/);
    const refused = { s3: { ...s3.options, endpoint: `http://127.0.0.1:${closedPort}`, maxAttempts: 1 } };
    const cause = new RegExp(`connect ECONNREFUSED 127\\.0\\.0\\.1:${closedPort}`);
    await expectUnreachable(listInputs(`s3://${s3.bucket}/ds/`, refused), `s3://${s3.bucket}/ds/`, cause);
    await expectUnreachable(openInput(`s3://${s3.bucket}/ds/a.jsonl`, refused), `s3://${s3.bucket}/ds/a.jsonl`, /ECONNREFUSED/);
  });

  it("gives up on a server that never answers after timeoutMs", { timeout: 60_000 }, async () => {
    const opts = { s3: { ...s3.options, endpoint: silentUrl, maxAttempts: 1 }, timeoutMs: 300 };
    await expectUnreachable(listInputs(`s3://${s3.bucket}/ds/`, opts), `s3://${s3.bucket}/ds/`, /^[^@]*: the request socket timed out after 300 ms/);
  });
});

describe("http inputs", () => {
  it("lists one file with size and etag from HEAD", async () => {
    const uri = `${http.url}/sub/c.jsonl`;
    const before = http.requests.length;
    const files = await listInputs(uri, httpOpts);
    expect(files).toEqual([{ uri, size: FILES["sub/c.jsonl"]?.length, etag: expect.stringMatching(/^\d+-\d+$/) }]);
    expect(http.requests.slice(before).map((r) => r.method)).toEqual(["HEAD"]);
  });

  it("follows redirects", async () => {
    const uri = `${http.url}/redirect/a.jsonl`;
    expect((await listInputs(uri, httpOpts))[0]?.size).toBe(FILES["a.jsonl"]?.length);
    expect(await readAll(await openInput(uri, httpOpts))).toBe(FILES["a.jsonl"]?.toString());
  });

  it("falls back to GET when HEAD is refused, and slices ranges itself when Range is ignored", async () => {
    const plain = await startFileServer(dir, { refuseHead: true, ignoreRange: true });
    try {
      const uri = `${plain.url}/a.jsonl`;
      const [file] = await listInputs(uri, httpOpts);
      expect(file?.size).toBe(FILES["a.jsonl"]?.length);
      expect(plain.requests.map((r) => r.method)).toEqual(["HEAD", "GET"]);
      expect(await readAll(await openInput(uri, httpOpts, { start: 2, end: 6 }))).toBe("text");
    } finally {
      await plain.close();
    }
  });

  it("opens a file whole or by byte range, and hashes it", async () => {
    const uri = `${http.url}/b.jsonl.gz`;
    const bytes = FILES["b.jsonl.gz"] as Buffer;
    expect(await readAll(await openInput(uri, httpOpts))).toBe(bytes.toString("latin1"));
    expect(await readAll(await openInput(uri, httpOpts, { start: 5, end: 9 }))).toBe(bytes.subarray(5, 9).toString("latin1"));
    expect(await readAll(await openInput(uri, httpOpts, { start: 5, end: 1000 }))).toBe(bytes.subarray(5).toString("latin1"));
    expect(await sha256OfInput(uri, httpOpts)).toBe(sha(bytes));
  });

  it("reports 404, 5xx, refused connections and timeouts as unreachable", async () => {
    await expectUnreachable(listInputs(`${http.url}/nope.jsonl`, httpOpts), `${http.url}/nope.jsonl`, /HTTP 404/);
    await expectUnreachable(openInput(`${http.url}/nope.jsonl`, httpOpts), `${http.url}/nope.jsonl`, /HTTP 404/);
    await expectUnreachable(listInputs(`${http.url}/status/503`, httpOpts), `${http.url}/status/503`, /HTTP 503/);
    const refused = `http://127.0.0.1:${closedPort}/x.jsonl`;
    // A closed port and a server that never answers read the same: the guard is no port scanner.
    const generic = new RegExp(`is unreachable: ${NOT_REACHABLE}$`);
    await expectUnreachable(listInputs(refused, httpOpts), refused, generic);
    await expectUnreachable(sha256OfInput(refused, httpOpts), refused, generic);
    const hung = `${silentUrl}/x.jsonl`;
    await expectUnreachable(listInputs(hung, { ...httpOpts, timeoutMs: 200 }), hung, generic);
    await expectUnreachable(openInput(hung, { ...httpOpts, timeoutMs: 200 }), hung, generic);
  });
});
