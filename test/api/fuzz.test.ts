import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import {
  acceptedTypes,
  fillPath,
  jsonType,
  loadSpec,
  operations,
  prng,
  resolve,
  runWithToken,
  sample,
  shapeProblem,
  uuid,
  type Operation,
  type Schema,
} from "./spec-support.js";

/**
 * A schema fuzz generated from /openapi.json: for every operation, each path and query parameter and
 * each body property (and the properties one level below) gets type-confused, NUL-bearing, huge,
 * non-finite-looking, negative, empty and very long values; bodies also get missing required keys,
 * unknown keys, `__proto__` / `constructor` payloads and malformed JSON. With a valid admin token
 * (the run's own token for the progress endpoint, a ticket for event streams) against real
 * PostgreSQL and Redis. No request may get a 5xx; every 4xx is `{error, message, field}`; a value of
 * a type the schema does not allow is never accepted (bodies are not coerced).
 */
const SEED = 20261207;
const MIN_REQUESTS = 1000;
/** Per request on a busy 2-core machine, with room to spare; the test's limit scales with the count. */
const MS_PER_REQUEST = 250;
const MAX_REQUESTS = 2400;

interface Case {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** The request carries a value the schema does not allow: any 2xx is a coercion. */
  mustFail?: boolean;
  /** When the answer is 400, its field must start with this. */
  field?: string;
}

let stack: Stack;
let spec: Schema;
let runToken: string;
let runId: string;
let ticket: string;

beforeAll(async () => {
  stack = await startStack();
  spec = await loadSpec(stack);
  ({ runId, runToken } = await runWithToken(stack, "fuzz-run"));
  const t = await stack.app.inject({ method: "POST", url: "/events/tickets", headers: { authorization: `Bearer ${stack.admin}` } });
  ticket = t.json().ticket;
});
afterAll(async () => stack?.close());

const LONG = "x".repeat(100_000);
const BODY_VALUES: unknown[] = [12345, "12345", null, true, false, [], {}, "a\u0000b", 1e308, -1e308, 1e20, -1, 0, 1.5, "", LONG];
const NESTED_VALUES: unknown[] = [12345, "12345", null, true, [], "a\u0000b", 1e308, 1e20, -1, "", LONG];
const QUERY_VALUES = ["%00", "a%00b", "99999999999999999999", "-1", "1e308", "", "x".repeat(3000), "bogus", "true", "1.5", "NaN"];
const PATH_VALUES = ["%00", "x".repeat(150), "not-a-uuid", "99999999999999999999", "%E0%A4%A", "..%2F..%2Fetc%2Fpasswd", "%20"];

function buildCases(ops: Operation[]): Case[] {
  const rand = prng(SEED);
  const cases: Case[] = [];
  for (const o of ops) {
    const security = (o.op.security ?? [])[0] ?? {};
    const headers: Record<string, string> = {};
    const baseQuery: Record<string, string> = {};
    if (security.bearer) headers.authorization = `Bearer ${stack.admin}`;
    if (security.runToken) headers.authorization = `Bearer ${runToken}`;
    if (security.ticket) baseQuery.ticket = ticket;
    const pathParams = o.params.filter((p) => p.in === "path");
    const queryParams = o.params.filter((p) => p.in === "query");
    const basePath: Record<string, string> = {};
    for (const p of pathParams) basePath[p.name] = security.runToken ? runId : encodeURIComponent(String(sample(spec, p.schema, rand)));
    const query = (q: Record<string, string>) => {
      const s = Object.entries(q).map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join("&");
      return s ? `?${s}` : "";
    };
    const url = (pp = basePath, q = baseQuery) => fillPath(o.path, pp) + query(q);
    const bodySchema = o.body ? resolve(spec, o.body) : undefined;
    const baseBody = bodySchema ? (sample(spec, bodySchema, rand) as Record<string, unknown>) : undefined;
    const json = () => ({ ...headers, "content-type": "application/json" });
    const withBody = (b: unknown) => (baseBody === undefined ? undefined : JSON.stringify(b));
    const base: Omit<Case, "label"> = { method: o.method, url: url(), headers: baseBody !== undefined ? json() : headers, payload: withBody(baseBody) };
    const id = `${o.method} ${o.path}`;
    cases.push({ ...base, label: `${id} baseline` });

    for (const p of pathParams) {
      for (const v of PATH_VALUES) {
        const accepted = acceptedTypes(spec, p.schema ?? {});
        cases.push({ ...base, label: `${id} path ${p.name}=${v.slice(0, 20)}`, url: url({ ...basePath, [p.name]: v }), mustFail: v.includes("%00") || (accepted?.has("number") && !/^\d+$/.test(v)) });
      }
    }
    for (const p of queryParams) {
      const schema = resolve(spec, p.schema);
      for (const v of QUERY_VALUES) {
        const notInEnum = schema.enum ? !schema.enum.includes(decodeURIComponent(v)) : false;
        const notNumber = (schema.type === "integer" || schema.type === "number") && !/^-?\d+(\.\d+)?$/.test(v);
        const nul = v.includes("%00");
        cases.push({
          ...base,
          label: `${id} query ${p.name}=${v.slice(0, 20)}`,
          url: url(basePath, { ...baseQuery, [p.name]: v }),
          mustFail: nul || notInEnum || notNumber,
          field: nul || notInEnum || notNumber ? `query.${p.name}` : undefined,
        });
      }
      cases.push({ ...base, label: `${id} query ${p.name} repeated`, url: `${url()}${url().includes("?") ? "&" : "?"}${p.name}=1&${p.name}=2` });
    }
    if (!bodySchema || !baseBody || typeof baseBody !== "object") continue;
    const props = Object.entries<Schema>(bodySchema.properties ?? {});
    for (const [k, raw] of props) {
      const accepted = acceptedTypes(spec, raw);
      for (const v of BODY_VALUES) {
        const wrongType = accepted !== null && !accepted.has(jsonType(v)) && !(jsonType(v) === "number" && accepted.has("number"));
        const nul = v === "a\u0000b";
        const b = { ...baseBody, [k]: v };
        cases.push({ ...base, label: `${id} body.${k}=${JSON.stringify(v)?.slice(0, 20)}`, headers: json(), payload: JSON.stringify(b), mustFail: wrongType || nul, field: wrongType || nul ? `body.${k}` : undefined });
      }
      const inner = resolve(spec, raw.type === "array" ? raw.items : raw);
      for (const [ik, iraw] of Object.entries<Schema>(inner.properties ?? {})) {
        const iacc = acceptedTypes(spec, iraw);
        for (const v of NESTED_VALUES) {
          const innerBase = (raw.type === "array" ? (baseBody[k] as unknown[])[0] : baseBody[k]) as Record<string, unknown>;
          const innerVal = { ...innerBase, [ik]: v };
          const b = { ...baseBody, [k]: raw.type === "array" ? [innerVal] : innerVal };
          const bad = (iacc !== null && !iacc.has(jsonType(v))) || v === "a\u0000b";
          cases.push({ ...base, label: `${id} body.${k}.${ik}=${JSON.stringify(v)?.slice(0, 20)}`, headers: json(), payload: JSON.stringify(b), mustFail: bad, field: bad ? `body.${k}` : undefined });
        }
      }
    }
    for (const r of bodySchema.required ?? []) {
      const b = { ...baseBody };
      delete b[r];
      cases.push({ ...base, label: `${id} missing body.${r}`, headers: json(), payload: JSON.stringify(b), mustFail: true, field: `body.${r}` });
    }
    const unknown = { ...baseBody, fuzz_unknown_key: 1 };
    const closed = bodySchema.additionalProperties === false;
    cases.push({ ...base, label: `${id} unknown key`, headers: json(), payload: JSON.stringify(unknown), mustFail: closed, field: closed ? "body.fuzz_unknown_key" : undefined });
    const rest = JSON.stringify(baseBody).slice(1);
    const raws: [string, string, string][] = [
      ["__proto__", `{"__proto__":{"polluted":true},${rest}`, "body"],
      ["constructor", `{"constructor":{"prototype":{"polluted":true}},${rest}`, "body"],
      ["invalid JSON", `{"name":`, "body"],
      ["array body", `[${JSON.stringify(baseBody)}]`, "body"],
      ["string body", `"text"`, "body"],
      ["null body", `null`, "body"],
      ["empty body", ``, "body"],
    ];
    for (const [what, payload, field] of raws) cases.push({ ...base, label: `${id} ${what}`, payload, mustFail: true, field });
    cases.push({ ...base, label: `${id} text/plain body`, headers: { ...headers, "content-type": "text/plain" }, payload: "hello", mustFail: true });
  }
  // A deterministic shuffle, so one operation's cases do not run as one burst.
  for (let i = cases.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [cases[i], cases[j]] = [cases[j]!, cases[i]!];
  }
  return cases;
}

describe("schema fuzz from /openapi.json", () => {
  // First: the fuzz below legitimately stores a token named "12345" (a string).
  it("stores nothing from a type-confused body", async () => {
    const admin = { authorization: `Bearer ${stack.admin}` };
    const name = await stack.app.inject({ method: "POST", url: "/tokens", headers: admin, payload: { name: 12345, scopes: ["read"] } });
    expect(name.statusCode).toBe(400);
    expect(name.json()).toMatchObject({ error: "validation_error", field: "body.name" });
    expect(await stack.prisma.apiToken.count({ where: { name: "12345" } })).toBe(0);
    const step = await stack.app.inject({ method: "POST", url: `/runs/${runId}/progress`, headers: { authorization: `Bearer ${runToken}` }, payload: { step: null, tokens_consumed: {}, loss: null } });
    expect(step.statusCode).toBe(400);
    expect(step.json().field).toBe("body.step");
    expect(await stack.prisma.runProgress.count({ where: { runId } })).toBe(0);
    const seqLen = await stack.app.inject({ method: "POST", url: "/mixtures/plan", headers: admin, payload: { name: "m", seed: 1, seq_len: true, tokenizer: "llama3", phases: [{}] } });
    expect(seqLen.statusCode).toBe(400);
    expect(seqLen.json().field).toBe("body.seq_len");
  });

  it(
    `sends ≥ ${MIN_REQUESTS} generated requests: no 5xx, every 4xx in the error shape naming its field, nothing coerced`,
    async () => {
      const ops = operations(spec);
      const cases = buildCases(ops);
      expect(cases.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
      expect(cases.length).toBeLessThanOrEqual(MAX_REQUESTS);
      const byStatus = new Map<number, number>();
      const problems: string[] = [];
      let next = 0;
      const worker = async () => {
        for (let c = cases[next++]; c; c = cases[next++]) {
          const res = await stack.app.inject({ method: c.method as "GET", url: c.url, headers: c.headers, payload: c.payload });
          byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode >= 500) problems.push(`${c.label}: ${res.statusCode} ${res.body.slice(0, 200)}`);
          const shape = shapeProblem(res.statusCode, res.body);
          if (shape) problems.push(`${c.label}: ${res.statusCode} ${shape}`);
          if (c.mustFail && res.statusCode < 300) problems.push(`${c.label}: accepted (${res.statusCode}) a value its schema does not allow`);
          if (c.field && res.statusCode === 400 && !shape) {
            const field = res.json().field as string;
            if (!field.startsWith(c.field) && !field.startsWith("headers.authorization")) problems.push(`${c.label}: field ${field}, expected ${c.field}…`);
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      const counts = [...byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(" ");
      console.log(`fuzz: ${cases.length} requests over ${ops.length} operations (seed ${SEED}): ${counts}`);
      expect(problems).toEqual([]);
      expect([...byStatus.keys()].filter((s) => s >= 500)).toEqual([]);
    },
    MAX_REQUESTS * MS_PER_REQUEST,
  );

  it("answers the reported 5xx inputs with 400 naming the field", async () => {
    const admin = { authorization: `Bearer ${stack.admin}` };
    // [method, url, body, field, status]; status 0: any 4xx (a well-formed URI that names nothing readable).
    const cases: [string, string, unknown, string, number?][] = [
      ["GET", "/sources?offset=99999999999999999999", undefined, "query.offset"],
      ["GET", "/runs?status=bogus", undefined, "query.status"],
      ["GET", "/pipelines?limit=%00", undefined, "query.limit"],
      ["POST", "/sources", { name: "a\u0000b", uri: "file:///nonexistent" }, "body.name"],
      ["POST", "/tokens", { name: "x", scopes: ["read"], extra: 1 }, "body.extra"],
      ["GET", `/sources/${uuid(prng(1))}%00`, undefined, "params.id"],
      ["POST", "/sources", { name: "deep", uri: `file:///${"d/".repeat(2000)}x.jsonl` }, "body.uri", 0],
      ["POST", "/sources", { name: "longname", uri: `file:///tmp/${"n".repeat(400)}/x.jsonl` }, "body.uri", 0],
      ["POST", "/sources", { name: "longuri", uri: `file:///${"u".repeat(5_000_000)}` }, "body.uri"],
      ["POST", "/sources", { name: "tf", uri: "file:///nonexistent", text_field: "t".repeat(100_000) }, "body.text_field"],
    ];
    for (const [method, url, payload, field, status = 400] of cases) {
      const res = await stack.app.inject({ method: method as "GET", url, headers: admin, ...(payload ? { payload: payload as object } : {}) });
      const got = status === 0 && res.statusCode >= 400 && res.statusCode < 500 ? 0 : res.statusCode;
      expect({ url, status: got, field: res.json().field }).toEqual({ url, status, field });
      expect(res.body.length).toBeLessThan(1024);
    }
  });

  it("answers a huge, negative or zero weight with a 4xx in the error shape", async () => {
    const admin = { authorization: `Bearer ${stack.admin}` };
    for (const weight of [1e308, -1, 0]) {
      const phases = [{ name: "p", tokens: 1024, components: [{ name: "a", dataset: uuid(prng(2)), weight }] }];
      const res = await stack.app.inject({ method: "POST", url: "/mixtures/plan", headers: admin, payload: { name: "w", seed: 1, seq_len: 64, tokenizer: "llama3", phases } });
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, res.body).toBeLessThan(500);
      expect(shapeProblem(res.statusCode, res.body)).toBeNull();
    }
  });
});
