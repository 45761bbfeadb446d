import fp from "fastify-plugin";
import { Ajv, type Options } from "ajv";
import addFormatsModule from "ajv-formats";
import { ValidationError } from "@tokenmill/domain";

// ajv-formats is CommonJS; its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

const common: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false };

/**
 * Two validators: JSON bodies are validated as sent (a string is never a number, null never 0), while
 * query strings and path parameters, which are text by nature, are coerced to their declared types.
 */
function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ ...common, coerceTypes: coerce ? "array" : false });
  addFormats(ajv);
  return ajv;
}

/**
 * A copy of `schema` in which every integer without bounds gets JavaScript's safe-integer range: JSON
 * numbers such as 1e20 are integers to Ajv but not to PostgreSQL, BigInt arithmetic or a scheduler.
 */
export function withIntegerBounds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withIntegerBounds);
  if (!schema || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === "default" || k === "const" || k === "enum" || k === "examples" ? v : withIntegerBounds(v);
  if (out.type === "integer") {
    if (out.maximum === undefined && out.exclusiveMaximum === undefined) out.maximum = Number.MAX_SAFE_INTEGER;
    if (out.minimum === undefined && out.exclusiveMinimum === undefined) out.minimum = Number.MIN_SAFE_INTEGER;
  }
  return out;
}

/** The first path (e.g. `body.steps.1.name`, `query.limit`) holding a string, or a key, with a NUL. */
export function findNul(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path : null;
  if (depth > 64 || value === null || typeof value !== "object") return null;
  const entries = Array.isArray(value) ? value.entries() : Object.entries(value);
  for (const [k, v] of entries) {
    const at = `${path}.${k}`;
    if (typeof k === "string" && k.includes("\u0000")) return path;
    const hit = findNul(v, at, depth + 1);
    if (hit) return hit;
  }
  return null;
}

export const validationPlugin = fp(
  async (app) => {
    const ajvs = { body: makeAjv(false), other: makeAjv(true) };
    const added = new Set<string>();
    app.setValidatorCompiler(({ schema, httpPart }) => {
      const ajv = httpPart === "body" ? ajvs.body : ajvs.other;
      // Shared schemas (app.addSchema) are registered on first use, once per instance.
      for (const [id, shared] of Object.entries(app.getSchemas())) {
        const key = `${httpPart === "body" ? "b" : "o"}:${id}`;
        if (added.has(key)) continue;
        added.add(key);
        ajv.addSchema(shared as object);
      }
      const id = (schema as { $id?: string }).$id;
      const known = id ? ajv.getSchema(id) : undefined;
      return (known ?? ajv.compile(withIntegerBounds(schema) as object)) as ReturnType<Parameters<typeof app.setValidatorCompiler>[0]>;
    });

    // PostgreSQL text and jsonb cannot hold NUL: refuse it at the edge, naming where it was, before
    // any handler can pass it to a query. Runs before schema validation so the answer does not
    // depend on which check a route happens to do first.
    app.addHook("preValidation", async (req) => {
      const at =
        findNul(req.params, "params") ?? findNul(req.query, "query") ?? (req.body !== undefined ? findNul(req.body, "body") : null);
      if (at) throw new ValidationError("must not contain a NUL character (\\u0000)", at);
    });
  },
  { name: "validation" },
);
