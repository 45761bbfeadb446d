import type { Readable } from "node:stream";

/**
 * The one small interface every object store implements: S3-compatible stores and a local
 * directory. Keys are `/`-separated paths relative to the store's root URI.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** S3 ETag (quotes removed) or, for files, `<size>-<mtimeMs>`. */
  etag?: string;
}

export interface ObjectStore {
  /** The store's root, e.g. `file:///var/lib/tokenmill` or `s3://bucket/prefix`. */
  readonly uri: string;
  /** Full URI of one object: `file:///var/lib/tokenmill/a/b` or `s3://bucket/prefix/a/b`. */
  url(key: string): string;
  /** Writes an object atomically (readers never see a partial object). Large bodies use multipart. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /** Streams a body of unknown length into an object (multipart on S3). */
  putStream(key: string, body: Readable): Promise<void>;
  /** Whole object; throws NotFoundError (from @tokenmill/domain) when absent. */
  get(key: string): Promise<Buffer>;
  /** Bytes [start, end) of an object. */
  getRange(key: string, start: number, end: number): Promise<Buffer>;
  getStream(key: string): Promise<Readable>;
  /** Size and etag, or null when absent. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
}
