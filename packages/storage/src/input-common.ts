import { Readable } from "node:stream";
import type { SourcePolicy } from "./guard/policy.js";
import type { S3ConnectionOptions } from "./s3-store.js";

/** One file of a registered dataset, as found by listInputs. */
export interface InputFile {
  /** Readable with openInput: `file:///…`, `s3://bucket/key` or the http(s) URL as given. */
  uri: string;
  size: number;
  /** Changes when the content changes: S3/HTTP ETag (quotes removed) or `<size>-<mtimeMs>` for files. */
  etag?: string;
}

export interface InputOptions {
  /** Connection options for s3:// inputs; the bucket comes from the URI. */
  s3?: S3ConnectionOptions;
  /**
   * Milliseconds to wait for a connection and response headers (http, s3) before giving up with
   * UnreachableError; for s3 also the socket idle timeout. Default 30000.
   */
  timeoutMs?: number;
  /**
   * What may be read on a user's behalf (file roots, non-public hosts, buckets). Default
   * DEFAULT_SOURCE_POLICY: no file:// at all, public addresses only. Local mode passes
   * LOCAL_SOURCE_POLICY.
   */
  policy?: SourcePolicy;
  /** Where the detail of a refused or failed http connection goes (debug level; the user sees only that it failed). */
  logger?: { debug(obj: object, msg: string): void };
}

/** Bytes [start, end) of an input. */
export interface ByteRange {
  start: number;
  end: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Directory and prefix listings pick up these (*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet,
 * *.arrow, *.arrows); globs pick up whatever they match.
 */
export function isDataFileName(name: string): boolean {
  return /\.(jsonl(\.gz|\.zst)?|parquet|arrows?)$/.test(name);
}

export function emptyStream(): Readable {
  return Readable.from([]);
}

/**
 * A one-line cause for UnreachableError that keeps what an operator needs: the errno and address
 * (`connect ECONNREFUSED 127.0.0.1:1`), the HTTP status, or the S3 error code.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; cause?: unknown; $metadata?: { httpStatusCode?: number } };
  // fetch wraps the socket error: TypeError("fetch failed", { cause }).
  if (e.message === "fetch failed" && e.cause) return describeError(e.cause);
  // net.connect to a name with several addresses fails with an AggregateError whose own message is empty.
  if (err instanceof AggregateError && !err.message) {
    const first = err.errors[0] as unknown;
    return first ? describeError(first) : (e.code ?? err.name);
  }
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) {
    const what = e.name && e.name !== "Error" && e.name !== "UnknownError" ? `${e.name} ` : "";
    const detail = e.message && e.message !== "UnknownError" && e.message !== e.name ? `: ${e.message}` : "";
    return `${what}(HTTP ${status})${detail}`;
  }
  const message = e.message.replace(/^@smithy\/[\w-]+ - /, ""); // the SDK's timeout errors name their package
  if (e.code && !message.includes(e.code)) return `${e.code}: ${message}`;
  return message || e.name;
}
