import { Readable } from "node:stream";
import { UnreachableError } from "@tokenmill/domain";
import { type GuardedResponse, guardedRequest, NOT_REACHABLE } from "./guard/http-request.js";
import { DEFAULT_SOURCE_POLICY } from "./guard/policy.js";
import { type ByteRange, DEFAULT_TIMEOUT_MS, describeError, emptyStream, type InputFile, type InputOptions } from "./input-common.js";
import { unquote } from "./s3-store.js";

/** One file per http(s) URL: size and ETag from HEAD, or from a GET when HEAD is refused. */
export async function listHttpInputs(uri: string, opts: InputOptions): Promise<InputFile[]> {
  let res = await request(uri, "HEAD", opts);
  res.body.resume();
  let size = Number(res.headers["content-length"] ?? Number.NaN);
  if (!ok(res) || !Number.isSafeInteger(size)) {
    // Some servers answer HEAD with 405/501, or 403 for URLs signed for GET only; ask with GET.
    res = await request(uri, "GET", opts);
    if (!ok(res)) {
      res.body.destroy();
      throw new UnreachableError(uri, httpStatus(res));
    }
    size = Number(res.headers["content-length"] ?? Number.NaN);
    if (Number.isSafeInteger(size)) res.body.destroy();
    else size = await countBytes(uri, res, opts); // chunked response without a length
  }
  const etag = res.headers.etag;
  return [{ uri, size, ...(etag ? { etag: unquote(etag) } : {}) }];
}

export async function openHttpInput(uri: string, opts: InputOptions, range?: ByteRange): Promise<Readable> {
  if (range && range.end <= range.start) {
    await listHttpInputs(uri, opts); // still report a missing file
    return emptyStream();
  }
  const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {};
  const res = await request(uri, "GET", opts, headers);
  if (range && res.status === 416) {
    res.body.destroy();
    return emptyStream();
  }
  if (!ok(res)) {
    res.body.destroy();
    throw new UnreachableError(uri, httpStatus(res));
  }
  // A server that ignores Range answers 200 with the whole file; cut the range out ourselves.
  if (range && res.status === 200) return Readable.from(slice(res.body, range));
  return res.body;
}

/**
 * GET/HEAD through the source guard (guard/http-request.ts), redirects followed, with a deadline on
 * connecting and receiving the response headers (the body then streams at its own pace).
 */
function request(uri: string, method: "GET" | "HEAD", opts: InputOptions, headers: Record<string, string> = {}): Promise<GuardedResponse> {
  return guardedRequest(uri, method, {
    policy: opts.policy ?? DEFAULT_SOURCE_POLICY,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    headers,
    onDetail: (detail) => opts.logger?.debug({ uri: redact(uri), detail }, "http source request failed"),
  });
}

const ok = (res: GuardedResponse) => res.status >= 200 && res.status < 300;
const httpStatus = (res: GuardedResponse) => `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;

/** The URL without its query string, which may carry a signature. */
function redact(uri: string): string {
  const q = uri.indexOf("?");
  return q < 0 ? uri : `${uri.slice(0, q)}?…`;
}

async function countBytes(uri: string, res: GuardedResponse, opts: InputOptions): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of res.body) n += (chunk as Buffer).length;
  } catch (err) {
    opts.logger?.debug({ uri: redact(uri), detail: describeError(err) }, "http source body failed");
    throw new UnreachableError(uri, NOT_REACHABLE);
  }
  return n;
}

async function* slice(src: AsyncIterable<Buffer>, { start, end }: ByteRange): AsyncGenerator<Buffer> {
  let pos = 0;
  for await (const chunk of src) {
    const from = Math.max(0, start - pos);
    const to = Math.min(chunk.length, end - pos);
    if (to > from) yield chunk.subarray(from, to);
    pos += chunk.length;
    if (pos >= end) break; // leaving the loop destroys the source and cancels the download
  }
}
