import { Type, type TSchema } from "typebox";
import { ValidationError } from "@tokenmill/domain";

/** Shapes shared by every route: the error body and list envelopes. */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: "Stable machine-readable code, e.g. validation_error, not_found." }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: "The offending input, e.g. body.uri, body.steps[1].min_chars, query.offset, headers.authorization." })),
  },
  { $id: "ErrorBody", title: "ErrorBody" },
);

/** Declared error responses for a route (success shapes are added per route). */
export function errors(...codes: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const c of codes) out[c] = Type.Ref("ErrorBody");
  return out;
}

export const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });

/**
 * The path parameter of a resource with a unique name: its id or its name (see ../resolve.ts for
 * `name@version` and `name@<fingerprint prefix>`). Bounded: it reaches the database as a lookup key.
 */
export const idOrName = (names = "unique name") =>
  Type.Object({ id: Type.String({ minLength: 1, maxLength: 256, description: `The id (UUID) or the ${names}.` }) });
export const IdOrNameParams = idOrName();

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  // Bounded: an unbounded offset reaches PostgreSQL as a bigint it cannot hold.
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0 })),
});

/**
 * Runs a domain parser over a request body, moving its errors' fields into the request's namespace
 * (`steps[1].min_chars` → `body.steps[1].min_chars`; an error about the whole document → `body`).
 */
export function inBody<T>(parse: () => T, root = "pipeline"): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const inner = err.field && err.field !== root ? err.field : "";
    const message = err.field ? err.message.slice(err.field.length + 2) : err.message;
    throw new ValidationError(message, inner ? `body.${inner}` : "body");
  }
}

export function page<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), total: Type.Integer() });
}

export const Scope = Type.Union([Type.Literal("read"), Type.Literal("write"), Type.Literal("admin")]);
