import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnreachableError, ValidationError } from "@tokenmill/domain";
import { startFileServer, type TestFileServer } from "@tokenmill/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listInputs, NOT_REACHABLE, openInput, type SourcePolicy } from "../index.js";

/**
 * The source guard end to end, with loopback targets only: refused hosts are refused before any
 * packet is sent (address literals) or at connect time (names), and every case here that is
 * refused counts towards the "SSRF / traversal cases refused" figure.
 */
let tmp: string;
let root: string;
let outside: string;
let http: TestFileServer;
/** Serves `/to?u=<url>` as a 302 to <url> and counts every request it gets. */
let redirector: Server;
let redirectorPort: number;
const redirectorHits: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-guard-"));
  root = join(tmp, "data");
  outside = join(tmp, "secret");
  await mkdir(join(root, "sub"), { recursive: true });
  await mkdir(outside);
  await mkdir(`${root}2`); // a sibling whose name starts with the root's
  await writeFile(join(root, "a.jsonl"), '{"text":"inside"}\n');
  await writeFile(join(root, "sub", "b.jsonl"), '{"text":"inside too"}\n');
  await writeFile(join(outside, "env.jsonl"), '{"text":"DATABASE_URL=postgresql://secret"}\n');
  await writeFile(join(`${root}2`, "c.jsonl"), '{"text":"sibling"}\n');
  http = await startFileServer(root);
  redirector = createServer((req, res) => {
    redirectorHits.push(req.url ?? "");
    const target = new URL(req.url ?? "/", "http://x").searchParams.get("u");
    if (target) res.writeHead(302, { Location: target }).end();
    else res.writeHead(200, { "Content-Length": "18" }).end('{"text":"direct"}\n');
  });
  await new Promise<void>((r) => redirector.listen(0, "127.0.0.1", r));
  redirectorPort = (redirector.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => redirector?.close(r));
  await http?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const files = (policy: SourcePolicy) => ({ policy });
const refusedFile = /file paths are limited to the configured roots \(FILE_SOURCE_ROOTS\)$/;

async function refusal(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => expect.unreachable("expected the guard to refuse"),
    (e: unknown) => e as Error,
  );
}

describe("file:// sources", () => {
  const policy = (): SourcePolicy => ({ fileRoots: [root], httpAllow: [] });

  it("reads inside a root, including through .. that stays inside", async () => {
    expect((await listInputs(`file://${root}/`, files(policy()))).length).toBe(2);
    expect((await listInputs(`file://${root}/sub/../a.jsonl`, files(policy()))).length).toBe(1);
    expect((await listInputs(`file://${root}/**/*.jsonl`, files(policy()))).length).toBe(2);
  });

  it("refuses everything outside the roots with one message, whether or not the path exists", async () => {
    const cases = [
      "file:///etc/passwd",
      "file:///proc/self/environ",
      "/etc/passwd",
      `file://${root}/../secret/env.jsonl`,
      `file://${root}/%2e%2e/secret/env.jsonl`,
      `file://${root}/%2E%2E/%2E%2E/etc/passwd`,
      `file://${root}/..%2fsecret/env.jsonl`,
      `file://${root}/a.jsonl%00.txt`,
      `file://${root}2/c.jsonl`, // a sibling is not inside
      `file://${root}2/`,
      `file://${root}/../secret/*.jsonl`, // a glob whose base leaves the root
      `file://${root}/../**/*.jsonl`,
      `file://${root}/../does-not-exist.jsonl`,
      "file:///no/such/dir/",
    ];
    for (const uri of cases) {
      const err = await refusal(listInputs(uri, files(policy())));
      expect(err, uri).toBeInstanceOf(ValidationError);
      // the same words for a path that exists and one that does not
      expect(err.message, uri).toBe(`${uri}: file paths are limited to the configured roots (FILE_SOURCE_ROOTS)`);
      expect(await refusal(openInput(uri, files(policy()))), uri).toBeInstanceOf(ValidationError);
    }
    // with no roots at all (the service default) nothing on disk is readable
    expect(await refusal(listInputs(`file://${root}/a.jsonl`))).toBeInstanceOf(ValidationError);
  });

  it("refuses symbolic links inside a root that point outside, when listing and when opening", async () => {
    const links = await mkdtemp(join(tmpdir(), "tokenmill-guard-links-"));
    try {
      await symlink(join(outside, "env.jsonl"), join(links, "leak.jsonl"));
      await symlink(outside, join(links, "dir"));
      await symlink(join(outside, "gone.jsonl"), join(links, "dangling.jsonl"));
      const p = files({ fileRoots: [links], httpAllow: [] });
      for (const uri of [`file://${links}/leak.jsonl`, `file://${links}/dir/env.jsonl`, `file://${links}/dir/`, `file://${links}/dangling.jsonl`]) {
        const err = await refusal(listInputs(uri, p));
        expect(err, uri).toBeInstanceOf(ValidationError);
        expect(err.message, uri).toMatch(refusedFile);
        expect(await refusal(openInput(uri, p)), uri).toBeInstanceOf(ValidationError);
      }
      // a folder or glob listing that would pick the link up is refused as a whole
      await writeFile(join(links, "ok.jsonl"), '{"text":"x"}\n');
      expect(await refusal(listInputs(`file://${links}/`, p))).toBeInstanceOf(ValidationError);
      expect(await refusal(listInputs(`file://${links}/*.jsonl`, p))).toBeInstanceOf(ValidationError);
    } finally {
      await rm(links, { recursive: true, force: true });
    }
  });

  it("re-checks at open time: a file listed under one policy is refused under a narrower one", async () => {
    const [file] = await listInputs(`file://${root}/a.jsonl`, files(policy()));
    expect(await refusal(openInput(file!.uri, files({ fileRoots: [join(root, "sub")], httpAllow: [] })))).toBeInstanceOf(ValidationError);
  });
});

describe("http(s) sources", () => {
  const none: SourcePolicy = { fileRoots: [], httpAllow: [] };

  it("refuses loopback address literals in every spelling before sending anything", async () => {
    const port = new URL(http.url).port;
    const before = http.requests.length;
    for (const host of ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::1]", "0.0.0.0", "0"]) {
      const uri = `http://${host}:${port}/a.jsonl`;
      const err = await refusal(listInputs(uri, { policy: none }));
      expect(err, uri).toBeInstanceOf(ValidationError);
      expect(err.message, uri).toMatch(/not allowed by HTTP_SOURCE_ALLOW/);
      expect(await refusal(openInput(uri, { policy: none })), uri).toBeInstanceOf(ValidationError);
    }
    expect(http.requests.length).toBe(before);
  });

  it("refuses a name that resolves to loopback at connect time, with the same message as a closed port", async () => {
    const port = new URL(http.url).port;
    const before = http.requests.length;
    const err = await refusal(listInputs(`http://localhost:${port}/a.jsonl`, { policy: none }));
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toBe(`http://localhost:${port}/a.jsonl is unreachable: ${NOT_REACHABLE}`);
    expect(http.requests.length).toBe(before);
    // An allowed host with nothing listening reads exactly the same.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const closed = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const closedErr = await refusal(listInputs(`http://localhost:${closed}/a.jsonl`, { policy: { fileRoots: [], httpAllow: ["localhost"] } }));
    expect(closedErr.message).toBe(`http://localhost:${closed}/a.jsonl is unreachable: ${NOT_REACHABLE}`);
  });

  it("reads a loopback server once the allowlist names its address, CIDR or host name", async () => {
    const port = new URL(http.url).port;
    for (const allow of ["127.0.0.1", "127.0.0.0/8", "localhost"]) {
      const host = allow === "localhost" ? "localhost" : "127.0.0.1";
      const [f] = await listInputs(`http://${host}:${port}/a.jsonl`, { policy: { fileRoots: [], httpAllow: [allow] } });
      expect(f?.size, allow).toBe(18);
    }
  });

  it("checks every redirect hop: an allowed host cannot redirect to a refused one", async () => {
    const port = new URL(http.url).port;
    const viaName: SourcePolicy = { fileRoots: [], httpAllow: ["localhost"] }; // the name, not its address
    for (const target of [`http://127.0.0.1:${port}/a.jsonl`, `http://2130706433:${port}/a.jsonl`, `http://[::1]:${port}/a.jsonl`, "file:///etc/passwd"]) {
      const uri = `http://localhost:${redirectorPort}/to?u=${encodeURIComponent(target)}`;
      const before = http.requests.length;
      const err = await refusal(listInputs(uri, { policy: viaName }));
      expect(err, target).toBeInstanceOf(UnreachableError);
      expect(err.message, target).toBe(`${uri} is unreachable: ${NOT_REACHABLE}`);
      expect(http.requests.length, target).toBe(before);
    }
    // and the same redirect is followed once the target is allowed too
    const ok = `http://localhost:${redirectorPort}/to?u=${encodeURIComponent(`http://127.0.0.1:${port}/a.jsonl`)}`;
    expect((await listInputs(ok, { policy: { fileRoots: [], httpAllow: ["localhost", "127.0.0.1"] } }))[0]?.size).toBe(18);
    expect(redirectorHits.length).toBeGreaterThan(0);
  });

  it("refuses credentials in URLs and non-http schemes", async () => {
    expect(await refusal(listInputs(`http://user:pw@127.0.0.1:${redirectorPort}/`, { policy: { fileRoots: [], httpAllow: ["127.0.0.1"] } }))).toBeInstanceOf(ValidationError);
    expect(await refusal(listInputs("gopher://127.0.0.1/", { policy: none }))).toBeInstanceOf(ValidationError);
  });
});

describe("s3:// sources", () => {
  it("refuses buckets outside S3_SOURCE_BUCKETS before any request", async () => {
    const policy: SourcePolicy = { fileRoots: [], httpAllow: [], s3Buckets: ["datasets"] };
    const s3 = { endpoint: "http://127.0.0.1:1", region: "us-east-1", forcePathStyle: true, maxAttempts: 1 };
    const err = await refusal(listInputs("s3://other-bucket/x/", { policy, s3 }));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(/S3_SOURCE_BUCKETS/);
    expect(await refusal(openInput("s3://other-bucket/x.jsonl", { policy, s3 }))).toBeInstanceOf(ValidationError);
  });
});
