import { TokenmillError, type InputIssue } from "@tokenmill/domain";
import { type InputFormat, stripQuery } from "../reader.js";

/**
 * An input whose bytes can never be read as asked: the wrong format for its name or for the
 * source's `format`, a corrupt Parquet footer or Arrow message. Retrying cannot help, so workers
 * fail the task at once (a TokenmillError is permanent); the message always names the file.
 */
export class BadInputError extends TokenmillError {
  override readonly statusCode = 422;
  override readonly code = "bad_input";
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = "BadInputError";
  }
}

/** A concrete format (never "auto"). */
export type ConcreteFormat = Exclude<InputFormat, "auto">;

/** What the first bytes of an input look like. */
export type Sniffed = ConcreteFormat | "text" | "binary";

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const PARQUET = [0x50, 0x41, 0x52, 0x31]; // "PAR1"
const ARROW_FILE = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"
/** How many bytes sniffing wants; a shorter input is judged on what it has. */
export const SNIFF_BYTES = 64;

const startsWith = (head: Uint8Array, magic: number[]) => head.byteLength >= magic.length && magic.every((b, i) => head[i] === b);

/**
 * The format the bytes show: gzip, zstd, Parquet (`PAR1`), Arrow IPC (file `ARROW1`, or a stream's
 * 0xFFFFFFFF continuation marker); JSONL when the first non-blank character is `{`; other text
 * (no control bytes besides tab/newline) as "text"; anything else as "binary".
 */
export function sniffFormat(head: Uint8Array): Sniffed {
  if (startsWith(head, GZIP)) return "jsonl.gz";
  if (startsWith(head, ZSTD)) return "jsonl.zst";
  if (startsWith(head, PARQUET)) return "parquet";
  if (startsWith(head, ARROW_FILE)) return "arrow";
  if (head.byteLength >= 8 && startsWith(head, [0xff, 0xff, 0xff, 0xff])) return "arrow";
  let i = startsWith(head, [0xef, 0xbb, 0xbf]) ? 3 : 0; // a UTF-8 byte order mark
  while (i < head.byteLength && isSpace(head[i]!)) i++;
  if (head[i] === 0x7b) return "jsonl";
  for (const b of head) if (b < 0x20 && !isSpace(b)) return "binary";
  return "text";
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** The format a name promises (`.jsonl`, `.jsonl.gz`/`.gz`, `.jsonl.zst`/`.zst`, `.parquet`, `.arrow`/`.arrows`). */
export function formatOfName(uri: string): ConcreteFormat | undefined {
  const path = stripQuery(uri).toLowerCase();
  if (path.endsWith(".parquet")) return "parquet";
  if (path.endsWith(".arrow") || path.endsWith(".arrows")) return "arrow";
  if (path.endsWith(".gz")) return "jsonl.gz";
  if (path.endsWith(".zst")) return "jsonl.zst";
  if (path.endsWith(".jsonl")) return "jsonl";
  return undefined;
}

const LABEL: Record<Sniffed, string> = {
  jsonl: "plain JSONL",
  "jsonl.gz": "gzip",
  "jsonl.zst": "zstd",
  parquet: "Parquet",
  arrow: "Arrow IPC",
  text: "plain text",
  binary: "binary data",
};

/** How an error or issue describes an input's first bytes: the format they show and the bytes in hex. */
export function describeHead(head: Uint8Array): string {
  const hex = Buffer.from(head.subarray(0, 8)).toString("hex").replace(/(..)(?!$)/g, "$1 ");
  return `${LABEL[sniffFormat(head)]} (first bytes ${hex})`;
}

/**
 * The format to read an input in. "auto" trusts the bytes over the name: a recognised format that
 * the name contradicts is used and reported as an input issue; bytes that match no format are read
 * as JSONL only when the name does not promise a binary format (each bad line is then a drop
 * reason), else the input is refused. An explicit format must match the bytes, or the input is
 * refused naming what its bytes look like. Empty inputs keep their name's format (an empty file).
 */
export function resolveFormat(format: InputFormat, uri: string, head: Uint8Array | undefined, issues: InputIssue[]): ConcreteFormat {
  const named = formatOfName(uri);
  if (head === undefined || head.byteLength === 0) return format === "auto" ? (named ?? "jsonl") : format;
  const sniffed = sniffFormat(head);
  const actual: ConcreteFormat | undefined = sniffed === "text" || sniffed === "binary" ? undefined : sniffed;
  if (format !== "auto") {
    if (actual === format || (actual === undefined && format === "jsonl")) return format;
    throw new BadInputError(uri, `the source's format is ${format}, but the file's bytes are ${describeHead(head)}`);
  }
  if (actual === undefined) {
    if (named === undefined || named === "jsonl") return "jsonl";
    throw new BadInputError(uri, `named as ${LABEL[named]}, but the file's bytes are ${describeHead(head)}`);
  }
  if (named !== undefined && named !== actual) {
    issues.push({ file: uri, line: 0, byte_offset: 0, reason: "format_mismatch", detail: `read as ${LABEL[actual]} despite its name: its bytes are ${describeHead(head)}` });
  }
  return actual;
}
