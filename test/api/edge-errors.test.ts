import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { hashApiToken } from "@tokenmill/domain";
import { startStack, type Stack } from "../support/stack.js";
import { shapeProblem } from "./spec-support.js";

/**
 * Errors raised by the framework and by Node's HTTP parser, answered in the same `{error, message,
 * field}` shape as validation errors; a dropped PostgreSQL connection costs no request; and an API
 * token's last use is recorded, at most once a minute.
 */
let stack: Stack;
let base: string;
const admin = () => ({ authorization: `Bearer ${stack.admin}` });

beforeAll(async () => {
  stack = await startStack();
  // A real loopback socket: some of these never reach Fastify, so inject() cannot reproduce them.
  await stack.app.listen({ host: "127.0.0.1", port: 0 });
  const addr = stack.app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});
afterAll(async () => stack?.close());

/** Writes `raw` to the server and returns the status line and body of its answer. */
function rawRequest(raw: string | Buffer): Promise<{ status: number; body: string }> {
  const { port } = stack.app.server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (d) => (data += d.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
    socket.end(raw);
  });
}

function expectShape(status: number, body: string, wantStatus: number, field: string) {
  expect(status, body.slice(0, 200)).toBe(wantStatus);
  expect(shapeProblem(status, body)).toBeNull();
  expect(JSON.parse(body).field).toBe(field);
}

describe("framework and parser errors keep the error shape", () => {
  it("a malformed %-escape in the path: 400 naming the url", async () => {
    const res = await fetch(`${base}/sources/%E0%A4%A`, { headers: admin() });
    expectShape(res.status, await res.text(), 400, "url");
  });

  it("a request target over the limit: 414 (inject) and 431 from Node's parser (socket)", async () => {
    const res = await stack.app.inject({ method: "GET", url: `/sources?x=${"a".repeat(10_000)}`, headers: admin() });
    expectShape(res.statusCode, res.body, 414, "url");
    const long = await rawRequest(`GET /sources?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expectShape(long.status, long.body, 431, "headers");
  });

  it("headers over the limit: 431 naming the headers", async () => {
    const big = await rawRequest(`GET /sources HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`);
    expectShape(big.status, big.body, 431, "headers");
  });

  it("a malformed HTTP request: 400 naming the request", async () => {
    const bad = await rawRequest("THIS IS NOT HTTP\r\n\r\n");
    expectShape(bad.status, bad.body, 400, "request");
  });

  it.each([
    ["__proto__", '{"__proto__":{"polluted":true},"name":"p","scopes":["read"]}'],
    ["constructor.prototype", '{"constructor":{"prototype":{"polluted":true}},"name":"p","scopes":["read"]}'],
    ["invalid JSON", '{"name":'],
    ["an empty body", ""],
  ])("%s in a JSON body: 400 naming the body", async (_what, payload) => {
    const res = await fetch(`${base}/tokens`, { method: "POST", headers: { ...admin(), "content-type": "application/json" }, body: payload });
    expectShape(res.status, await res.text(), 400, "body");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("an unsupported content type: 415 naming the header", async () => {
    const res = await fetch(`${base}/tokens`, { method: "POST", headers: { ...admin(), "content-type": "application/xml" }, body: "<name>p</name>" });
    expectShape(res.status, await res.text(), 415, "headers.content-type");
  });

  it("a body over the limit: 413 naming the body", async () => {
    const res = await fetch(`${base}/tokens`, { method: "POST", headers: { ...admin(), "content-type": "application/json" }, body: `{"name":"${"x".repeat(11 * 1024 * 1024)}"}` });
    expectShape(res.status, await res.text(), 413, "body");
  });

  it("an unknown route: 404 naming the url, without echoing a long path", async () => {
    const res = await stack.app.inject({ method: "GET", url: `/nope/${"z".repeat(5000)}` });
    expectShape(res.statusCode, res.body, 404, "url");
    expect(res.body.length).toBeLessThan(1024);
  });
});

describe("PostgreSQL connection faults", () => {
  it("requests racing the server ending every connection of the pool all succeed (57P01, retried once)", async () => {
    const adminDb = new pg.Client({ connectionString: stack.databaseUrl });
    await adminDb.connect();
    try {
      const statuses: number[] = [];
      let killed = 0;
      for (let round = 0; round < 8; round++) {
        // Warm the pool so the client holds connections that are about to die, then kill them while
        // authenticated requests are being answered.
        await Promise.all(Array.from({ length: 6 }, () => stack.app.inject({ method: "GET", url: "/session", headers: admin() })));
        const kill = adminDb.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
        const res = await Promise.all(Array.from({ length: 12 }, () => stack.app.inject({ method: "GET", url: "/session", headers: admin() })));
        killed += (await kill).rowCount ?? 0;
        statuses.push(...res.map((r) => r.statusCode));
      }
      expect(killed).toBeGreaterThan(0);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    } finally {
      await adminDb.end();
    }
  });
});

describe("last_used_at", () => {
  it("is set on use, and written at most once a minute", async () => {
    const token = await stack.token(["read"]);
    const row = async () => stack.prisma.apiToken.findFirstOrThrow({ where: { tokenHash: hashApiToken(token) } });
    expect((await row()).lastUsedAt).toBeNull();
    const before = Date.now();
    expect((await stack.app.inject({ method: "GET", url: "/session", headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    const first = (await row()).lastUsedAt;
    expect(first).not.toBeNull();
    expect(first!.getTime()).toBeGreaterThanOrEqual(before - 1000);

    // Used 30 s ago: not written again.
    const recent = new Date(Date.now() - 30_000);
    await stack.prisma.apiToken.update({ where: { id: (await row()).id }, data: { lastUsedAt: recent } });
    await stack.app.inject({ method: "GET", url: "/session", headers: { authorization: `Bearer ${token}` } });
    expect((await row()).lastUsedAt!.getTime()).toBe(recent.getTime());

    // Used 2 min ago: written.
    const old = new Date(Date.now() - 120_000);
    await stack.prisma.apiToken.update({ where: { id: (await row()).id }, data: { lastUsedAt: old } });
    await stack.app.inject({ method: "GET", url: "/session", headers: { authorization: `Bearer ${token}` } });
    expect((await row()).lastUsedAt!.getTime()).toBeGreaterThan(old.getTime() + 60_000);
    const listed = await stack.app.inject({ method: "GET", url: "/tokens", headers: admin() });
    const id = (await row()).id;
    const shown = (listed.json().items as { id: string; last_used_at: string | null }[]).find((t) => t.id === id);
    expect(shown?.last_used_at).toBe((await row()).lastUsedAt!.toISOString());
  });
});
