import type { ReadEvent, ReaderOptions } from "../reader.js";

/**
 * Shared by the Parquet and Arrow readers: one table row becomes the same `doc` / `drop` event a
 * JSONL line does. Provenance: `line` is the 1-based row number in the file, `byte_offset` is 0.
 */
export function rowToEvent(record: Record<string, unknown>, row: number, opts: Required<ReaderOptions>, base: string): ReadEvent {
  const at = { line: row, byte_offset: 0 };
  const fallbackId = `${base}:${row}`;
  const rawId = record[opts.id_field];
  const doc_id =
    typeof rawId === "string" || (typeof rawId === "number" && Number.isFinite(rawId)) || typeof rawId === "bigint" ? String(rawId) : fallbackId;
  const text = record[opts.text_field];
  if (typeof text !== "string") {
    const detail =
      text === undefined
        ? `no "${opts.text_field}" column`
        : `"${opts.text_field}" is ${text === null ? "null" : describe(text)}, not a string`;
    return { kind: "drop", drop: { doc_id, ...at, reason: "read:missing_text", detail } };
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (k !== opts.text_field && k !== opts.id_field) fields[k] = jsonSafe(v);
  return { kind: "doc", doc: { doc_id, text, ...at, fields } };
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return "binary";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/**
 * A column value as plain JSON: bigints become numbers when exactly representable, else decimal
 * strings; binary becomes base64; dates ISO strings; typed arrays, Arrow vectors, struct rows and
 * maps plain arrays and objects; non-finite numbers null.
 */
export function jsonSafe(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return Number.isFinite(v) ? v : null;
    case "bigint":
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    case "object":
      break;
    default:
      return String(v);
  }
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, jsonSafe);
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) out[String(k)] = jsonSafe(x);
    return out;
  }
  // Arrow: a StructRow / MapRow's toJSON() is a plain object, a Vector's (list cell) an array.
  const obj = v as { toJSON?: () => unknown };
  if (typeof obj.toJSON === "function") {
    const plain = obj.toJSON();
    if (plain !== v) return jsonSafe(plain);
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = jsonSafe(x);
  return out;
}
