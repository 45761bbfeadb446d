import { isAbsolute } from "node:path";
import { ValidationError } from "@tokenmill/domain";

/**
 * URI helpers shared by stores and input sources. File URIs are parsed by hand rather than with
 * `new URL`, because `?` is a glob wildcard here and `new URL` would take it for a query string.
 */

/** `file:///abs/path` (or `file://localhost/abs/path`) or a plain absolute path → absolute path. */
export function fileUriToPath(uri: string): string {
  if (isAbsolute(uri)) return uri;
  if (!uri.startsWith("file://")) throw new ValidationError(`not a file:// URI: ${uri}`);
  let rest = uri.slice("file://".length);
  if (rest.startsWith("localhost/")) rest = rest.slice("localhost".length);
  if (!rest.startsWith("/")) throw new ValidationError(`file URI must name an absolute path (file:///...): ${uri}`);
  return rest
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment; // a literal '%' that is not an escape
      }
    })
    .join("/");
}

/** Absolute path → `file://` URI, escaping only what would change the parse (`%`, `#`, `?`, space…). */
export function pathToFileUri(path: string): string {
  return `file://${path.split("/").map(encodeSegment).join("/")}`;
}

function encodeSegment(segment: string): string {
  return segment.replace(/[%#?\s"<>`{}\\^|]/g, (c) => encodeURIComponent(c));
}

export interface S3Location {
  bucket: string;
  /** Everything after `bucket/`; may be empty or end with `/`. */
  key: string;
}

export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m?.[1]) throw new ValidationError(`not an s3://bucket/key URI: ${uri}`);
  return { bucket: m[1], key: m[2] ?? "" };
}

/** `file:`, `s3:`, `http:`… for a URI, `file:` for an absolute path, or null when it has none. */
export function schemeOf(uri: string): string | null {
  if (isAbsolute(uri)) return "file:";
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(uri);
  return m?.[1] ? `${m[1].toLowerCase()}:` : null;
}

/**
 * Object keys are `/`-separated relative paths. Rejected so that no key can escape a store's root
 * (or mean different things on a disk and in a bucket): empty keys, a leading `/`, `.`/`..` segments,
 * backslashes and NUL.
 */
export function checkKey(key: string): void {
  if (key === "" || key.startsWith("/") || key.includes("\\") || key.includes("\0")) {
    throw new ValidationError(`invalid object key ${JSON.stringify(key)}`, "key");
  }
  for (const segment of key.split("/")) {
    if (segment === ".." || segment === ".") {
      throw new ValidationError(`object key ${JSON.stringify(key)} must not contain "." or ".." segments`, "key");
    }
  }
}

/** `[start, end)` with 0 ≤ start ≤ end. */
export function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new ValidationError(`invalid byte range [${start}, ${end})`, "range");
  }
}
