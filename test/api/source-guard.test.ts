import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFileServer, type TestFileServer } from "@tokenmill/testkit";
import { startStack, type Stack, waitForRun } from "../support/stack.js";

/**
 * The source guard through the API and a worker, loopback only. The stack's file root is one temp
 * folder and its http allowlist names only the host name `localhost`, so loopback address literals
 * are refused while `http://localhost:<port>` is allowed. Every refused case here counts towards
 * the "SSRF / traversal cases refused" figure.
 */
let stack: Stack;
let root: string;
let outside: string;
let http: TestFileServer;
let port: string;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
const DOC = '{"text":"a document long enough to keep"}\n';

beforeAll(async () => {
  const tmp = await mkdtemp(join(tmpdir(), "tokenmill-guard-api-"));
  root = join(tmp, "data");
  outside = join(tmp, "outside");
  await mkdir(join(root, "eval"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, "a.jsonl"), DOC);
  await writeFile(join(outside, "secret.jsonl"), '{"text":"DATABASE_URL=postgresql://secret"}\n');
  await symlink(join(outside, "secret.jsonl"), join(root, "link.jsonl"));
  http = await startFileServer(root);
  port = new URL(http.url).port;
  stack = await startStack({ sourceEnv: { FILE_SOURCE_ROOTS: root, HTTP_SOURCE_ALLOW: "localhost" } });
});

afterAll(async () => {
  await stack?.close();
  await http?.close();
  if (root) await rm(join(root, ".."), { recursive: true, force: true });
});

async function register(name: string, uri: string) {
  return stack.app.inject({ method: "POST", url: "/sources", headers: auth(), payload: { name, uri } });
}

describe("registration", () => {
  it("refuses file paths outside the roots with 400 naming body.uri, the same words whether they exist or not", async () => {
    const cases = [
      "file:///etc/passwd",
      "file:///proc/self/environ",
      "/etc/passwd",
      `file://${root}/../outside/secret.jsonl`,
      `file://${root}/%2e%2e/outside/secret.jsonl`,
      `file://${root}/%2E%2E%2Foutside%2Fsecret.jsonl`,
      `file://${root}/link.jsonl`, // a symlink inside pointing out
      `file://${root}/`, // a folder listing that would include that link
      `file://${root}/../outside/*.jsonl`,
      `file://${root}/a.jsonl%00`,
      "file:///nonexistent/x.jsonl",
    ];
    for (const [i, uri] of cases.entries()) {
      const res = await register(`f${i}`, uri);
      expect(res.statusCode, uri).toBe(400);
      expect(res.json().field, uri).toBe("body.uri");
      expect(res.json().message, uri).toMatch(/: file paths are limited to the configured roots \(FILE_SOURCE_ROOTS\)$/);
      expect(res.json().message, uri).not.toMatch(/ENOENT|no such|not found/i);
    }
    expect(await stack.prisma.source.count()).toBe(0);
  });

  it("refuses loopback and unspecified address literals in any spelling without connecting", async () => {
    const before = http.requests.length;
    for (const [i, host] of ["127.0.0.1", "2130706433", "0x7f.1", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]"].entries()) {
      const uri = `http://${host}:${port}/a.jsonl`;
      const res = await register(`h${i}`, uri);
      expect(res.statusCode, uri).toBe(400);
      expect(res.json().field, uri).toBe("body.uri");
    }
    expect(http.requests.length).toBe(before);
  });

  it("says only that a port on an allowed host could not be reached (no port scanning)", async () => {
    const closed = await register("c", "http://localhost:1/x.jsonl");
    expect(closed.statusCode).toBe(422);
    expect(closed.json().message).toBe("body.uri: http://localhost:1/x.jsonl is unreachable: source not reachable or not allowed");
  });

  it("registers what the settings allow: a file under a root, a host on the allowlist", async () => {
    expect((await register("ok-file", `file://${root}/a.jsonl`)).statusCode).toBe(201);
    expect((await register("ok-http", `http://localhost:${port}/a.jsonl`)).statusCode).toBe(201);
  });
});

describe("pipeline parameters that name files", () => {
  const pipeline = (name: string, step: Record<string, unknown>) => ({ version: 1, name, steps: [step, { step: "tokenize" }] });

  it("refuses classifier paths and eval folders outside the roots at definition, naming the parameter", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ step: "quality_classifier", model: "/etc/passwd" }, "body.steps[0].model"],
      [{ step: "quality_classifier", model: "file:///etc/passwd" }, "body.steps[0].model"],
      [{ step: "quality_classifier", model: "../../etc/model.bin" }, "body.steps[0].model"],
      [{ step: "quality_classifier", model: `${root}/../outside/model.bin` }, "body.steps[0].model"],
      [{ step: "decontaminate", eval_dir: "/etc" }, "body.steps[0].eval_dir"],
      [{ step: "decontaminate", eval_dir: "/nonexistent" }, "body.steps[0].eval_dir"],
      [{ step: "decontaminate", eval_dir: `${root}/../outside` }, "body.steps[0].eval_dir"],
    ];
    const messages = new Set<string>();
    for (const [i, [step, field]] of cases.entries()) {
      const res = await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(), payload: pipeline(`p${i}`, step) });
      expect(res.statusCode, JSON.stringify(step)).toBe(400);
      expect(res.json().field, JSON.stringify(step)).toBe(field);
      messages.add(`${field}: ${res.json().message}`);
    }
    // one wording per parameter: nothing tells /etc (exists) from /nonexistent
    expect(messages.size).toBe(2);
    const inside = await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(), payload: pipeline("p-ok", { step: "decontaminate", eval_dir: join(root, "eval") }) });
    expect(inside.statusCode).toBe(201);
  });
});

describe("run time", () => {
  it("re-checks a source under the worker's current settings: the run fails naming it, nothing is read", async () => {
    await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(), payload: { version: 1, name: "plain", steps: [{ step: "tokenize" }] } });
    // The operator narrows the settings after both sources were registered.
    const worker = await stack.startWorker({ sourcePolicy: { fileRoots: [], httpAllow: [] } });
    try {
      for (const source of ["ok-file", "ok-http"]) {
        const before = http.requests.length;
        const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(), payload: { source, pipeline: "plain" } });
        expect(started.statusCode).toBe(202);
        const run = await waitForRun(stack, started.json().id);
        expect(run.status, source).toBe("failed");
        expect(run.error, source).toContain(`source "${source}"`);
        expect(run.totals.docs_in, source).toBe(0);
        expect(http.requests.length, source).toBe(before);
      }
      // and a pipeline whose eval folder left the roots fails before reading anything too
      const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(), payload: { source: "ok-file", pipeline: "p-ok" } });
      const run = await waitForRun(stack, started.json().id);
      expect(run.status).toBe("failed");
      expect(run.error).toContain("steps[0].eval_dir");
    } finally {
      await worker.close();
    }
  });
});
