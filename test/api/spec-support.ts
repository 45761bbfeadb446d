import { randomBytes } from "node:crypto";
import { hashApiToken, mulberry32 } from "@tokenmill/domain";
import type { Stack } from "../support/stack.js";

/**
 * Helpers that read the API's own OpenAPI document, so the fuzz and the auth matrix cover every
 * operation the API publishes, including ones added later, without a hand-kept list.
 */
export type Schema = Record<string, any>;

export interface Operation {
  method: string;
  /** The OpenAPI path, e.g. /sources/{id}. */
  path: string;
  op: Schema;
  params: Schema[];
  body?: Schema;
}

export async function loadSpec(stack: Stack): Promise<Schema> {
  const res = await stack.app.inject({ method: "GET", url: "/openapi.json" });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json: ${res.statusCode}`);
  return res.json();
}

export function operations(spec: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(spec.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      out.push({ method: method.toUpperCase(), path, op, params: op.parameters ?? [], body: op.requestBody?.content?.["application/json"]?.schema });
    }
  }
  return out;
}

/** A deterministic PRNG, so a failing request can be reproduced from the seed. */
export const prng = mulberry32;

export function uuid(rand: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16));
  h[12] = "4";
  h[16] = "8";
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

export function resolve(spec: Schema, s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; i < 10 && typeof cur.$ref === "string"; i++) {
    const name = cur.$ref.split("/").pop()!;
    cur = spec.components?.schemas?.[name] ?? {};
  }
  return cur;
}

/** The JSON types a schema accepts ("integer" also accepts "number"-typed integral values). */
export function acceptedTypes(spec: Schema, raw: Schema): Set<string> | null {
  const s = resolve(spec, raw);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) {
    const all = new Set<string>();
    for (const a of alts) {
      const t = acceptedTypes(spec, a);
      if (!t) return null;
      for (const x of t) all.add(x);
    }
    return all;
  }
  if (s.const !== undefined) return new Set([s.const === null ? "null" : typeof s.const]);
  if (s.enum) return new Set(s.enum.map((v: unknown) => (v === null ? "null" : typeof v)));
  const t = s.type;
  if (!t) return null; // unconstrained
  const types: string[] = Array.isArray(t) ? t : [t];
  return new Set(types.map((x) => (x === "integer" ? "number" : x)));
}

export function jsonType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** A value the schema is likely to accept: the baseline every variant changes one thing of. */
export function sample(spec: Schema, raw: Schema | undefined, rand: () => number, depth = 0): unknown {
  const s = resolve(spec, raw);
  if (depth > 6) return null;
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return sample(spec, alts.find((a: Schema) => resolve(spec, a).type !== "null") ?? alts[0], rand, depth + 1);
  if (s.allOf) return Object.assign({}, ...s.allOf.map((a: Schema) => sample(spec, a, rand, depth + 1)));
  switch (Array.isArray(s.type) ? s.type[0] : s.type) {
    case "string":
      if (s.format === "uuid") return uuid(rand);
      if (s.format === "date-time") return new Date(0).toISOString();
      return "fuzz".padEnd(Math.max(4, s.minLength ?? 0), "z").slice(0, s.maxLength ?? 64);
    case "integer":
    case "number":
      return Math.min(Math.max(s.minimum ?? 1, s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1), s.maximum ?? 1e6);
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: Math.max(1, s.minItems ?? 0) }, () => sample(spec, s.items, rand, depth + 1));
    case "object": {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries<Schema>(s.properties ?? {})) o[k] = sample(spec, v, rand, depth + 1);
      return o;
    }
    default:
      return {};
  }
}

/** A training run with its own run token (rows made directly: no trainer, no mixture plan needed). */
export async function runWithToken(stack: Stack, name: string): Promise<{ runId: string; runToken: string; experimentId: string }> {
  const exp = await stack.prisma.experiment.create({ data: { name, recipe: {}, recipeHash: name, model: {}, training: {} } });
  const runToken = `tmr_${randomBytes(24).toString("base64url")}`;
  const run = await stack.prisma.trainingRun.create({
    data: {
      experimentId: exp.id,
      stage: "pretrain",
      mixtureId: exp.id,
      planFingerprint: "x",
      backend: "local",
      resources: {},
      retry: {},
      overrides: {},
      status: "running",
      tokenHash: hashApiToken(runToken),
    },
  });
  return { runId: run.id, runToken, experimentId: exp.id };
}

/** Fills an OpenAPI path's {params} with `values` (already URL-encoded). */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => values[name] ?? "x");
}

/** The error-shape check shared by the fuzz and the auth matrix: `{error, message, field}`, short. */
export function shapeProblem(status: number, body: string): string | null {
  if (status < 400 || status >= 500) return null;
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 80)}`;
  }
  if (typeof json.error !== "string" || typeof json.message !== "string" || typeof json.field !== "string" || !json.field) {
    return `not {error, message, field}: ${body.slice(0, 200)}`;
  }
  if (body.length > 2048) return `a ${body.length}-byte error body (input echoed?)`;
  return null;
}
