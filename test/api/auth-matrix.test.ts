import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newApiToken, type Scope } from "@tokenmill/domain";
import { startStack, type Stack } from "../support/stack.js";
import { fillPath, loadSpec, operations, prng, runWithToken, shapeProblem, uuid, type Operation, type Schema } from "./spec-support.js";

/**
 * Every operation of /openapi.json against every kind of caller: no token, a revoked token, a token
 * lacking the operation's scope, a training run's own token (good only for its progress reports) and
 * a token that has the scope. Bodies and ids are deliberately invalid: authentication answers first,
 * so a 400 here would mean validation ran before auth. Operations are enumerated from the spec; one
 * that documents no security and is not public fails the test.
 */
const PUBLIC = new Set(["GET /healthz"]);
const BELOW: Record<Scope, Scope | null> = { read: null, write: "read", admin: "write" };

let stack: Stack;
let spec: Schema;
let ops: Operation[];
const tokens: Partial<Record<Scope | "revoked", string>> = {};
let runToken: string;
let runId: string;

beforeAll(async () => {
  stack = await startStack();
  spec = await loadSpec(stack);
  ops = operations(spec);
  for (const s of ["read", "write", "admin"] as const) tokens[s] = await stack.token([s]);
  const revoked = newApiToken();
  await stack.prisma.apiToken.create({ data: { name: "revoked", scopes: ["admin"], prefix: revoked.prefix, tokenHash: revoked.hash, revokedAt: new Date() } });
  tokens.revoked = revoked.token;
  ({ runId, runToken } = await runWithToken(stack, "matrix-run"));
});
afterAll(async () => stack?.close());

/** A request to `o` with an invalid id in every path parameter and an invalid JSON body. */
function request(o: Operation, authorization?: string, opts: { runId?: string; query?: string } = {}) {
  const params: Record<string, string> = {};
  for (const p of o.params.filter((x) => x.in === "path")) params[p.name] = opts.runId ?? "not-a-valid-id";
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const body = o.method === "GET" || o.method === "DELETE" ? undefined : JSON.stringify({ fuzz_unknown_key: "\u0000" });
  if (body) headers["content-type"] = "application/json";
  return stack.app.inject({ method: o.method as "GET", url: fillPath(o.path, params) + (opts.query ?? ""), headers, payload: body });
}

const key = (o: Operation) => `${o.method} ${o.path}`;

describe("auth matrix over every operation in /openapi.json", () => {
  it("documents security for every operation that is not public", () => {
    expect(ops.length).toBeGreaterThanOrEqual(50);
    const undocumented = ops.filter((o) => !PUBLIC.has(key(o)) && !(Array.isArray(o.op.security) && o.op.security.length > 0)).map(key);
    expect(undocumented).toEqual([]);
    const publicButSecured = ops.filter((o) => PUBLIC.has(key(o)) && (o.op.security ?? []).length > 0).map(key);
    expect(publicButSecured).toEqual([]);
    for (const o of ops) {
      for (const req of o.op.security ?? []) {
        for (const [scheme, scopes] of Object.entries<string[]>(req)) {
          expect(Object.keys(spec.components.securitySchemes), `${key(o)} uses an undefined scheme`).toContain(scheme);
          if (scheme === "bearer") expect(scopes.length, `${key(o)} names no scope`).toBe(1);
        }
      }
    }
  });

  it("answers 401 / 403 before any validation, in the error shape, for each caller", async () => {
    const problems: string[] = [];
    let requests = 0;
    // want null: authorized, so anything but 401/403 (and never a 5xx).
    const check = async (o: Operation, who: string, want: number[] | null, authorization?: string, opts?: { runId?: string; query?: string }) => {
      const res = await request(o, authorization, opts);
      requests++;
      const ok = want ? want.includes(res.statusCode) : res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode < 500;
      if (!ok) problems.push(`${key(o)} ${who}: ${res.statusCode} (want ${want?.join("/") ?? "authorized"}) ${res.body.slice(0, 160)}`);
      const shape = shapeProblem(res.statusCode, res.body);
      if (shape && res.statusCode < 500) problems.push(`${key(o)} ${who}: ${shape}`);
    };
    for (const o of ops) {
      if (PUBLIC.has(key(o))) {
        const res = await request(o);
        requests++;
        if (res.statusCode === 401 || res.statusCode === 403) problems.push(`${key(o)} is public but answered ${res.statusCode}`);
        continue;
      }
      const [scheme, scopes] = Object.entries<string[]>(o.op.security[0])[0]!;
      await check(o, "no token", [401]);
      await check(o, "revoked token", [401], `Bearer ${tokens.revoked}`);
      await check(o, "malformed header", [401], "Basic dXNlcjpwYXNz");
      if (scheme === "bearer") {
        const scope = scopes[0] as Scope;
        const below = BELOW[scope];
        if (below) await check(o, `${below} token`, [403], `Bearer ${tokens[below]}`);
        await check(o, "run token", [401], `Bearer ${runToken}`);
        await check(o, "run token on its own run", [401], `Bearer ${runToken}`, { runId });
        // With the scope, auth passes: the invalid id or body is now what is refused (never 401/403).
        const invalid = o.params.some((p) => p.in === "path") || o.body !== undefined;
        await check(o, `${scope} token`, invalid ? [400, 404] : null, `Bearer ${tokens[scope]}`);
      } else if (scheme === "runToken") {
        await check(o, "admin token", [401], `Bearer ${tokens.admin}`, { runId });
        await check(o, "run token, other run", [401], `Bearer ${runToken}`, { runId: uuid(prng(3)) });
        await check(o, "run token", [400], `Bearer ${runToken}`, { runId });
      } else if (scheme === "ticket") {
        await check(o, "bearer token instead of a ticket", [401], `Bearer ${tokens.admin}`);
        await check(o, "bad ticket", [401], undefined, { query: "?ticket=tmt_not_a_ticket" });
        const t = await stack.app.inject({ method: "POST", url: "/events/tickets", headers: { authorization: `Bearer ${tokens.read}` } });
        await check(o, "valid ticket", [400], undefined, { query: `?ticket=${t.json().ticket}` });
        await stack.prisma.apiToken.updateMany({ where: { name: "test-read" }, data: { revokedAt: new Date() } });
        await check(o, "ticket of a revoked token", [401], undefined, { query: `?ticket=${t.json().ticket}` });
        await stack.prisma.apiToken.updateMany({ where: { name: "test-read" }, data: { revokedAt: null } });
      } else {
        problems.push(`${key(o)}: unknown security scheme ${scheme}`);
      }
    }
    console.log(`auth matrix: ${requests} requests over ${ops.length} operations`);
    expect(problems).toEqual([]);
  });
});
