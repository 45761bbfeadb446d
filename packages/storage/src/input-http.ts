import { Readable } from "node:stream";
import type { ReadableStream } from "node:stream/web";
import { UnreachableError } from "@tokenmill/domain";
import {
  type ByteRange,
  DEFAULT_TIMEOUT_MS,
  describeError,
  emptyStream,
  type InputFile,
  type InputOptions,
} from "./input-common.js";
import { unquote } from "./s3-store.js";

/** One file per http(s) URL: size and ETag from HEAD, or from a GET when HEAD is refused. */
export async function listHttpInputs(uri: string, opts: InputOptions): Promise<InputFile[]> {
  let res = await request(uri, "HEAD", opts);
  let size = Number(res.headers.get("content-length") ?? Number.NaN);
  if (!res.ok || !Number.isSafeInteger(size)) {
    // Some servers answer HEAD with 405/501, or 403 for URLs signed for GET only; ask with GET.
    res = await request(uri, "GET", opts);
    if (!res.ok) {
      await res.body?.cancel();
      throw new UnreachableError(uri, `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
    }
    size = Number(res.headers.get("content-length") ?? Number.NaN);
    if (Number.isSafeInteger(size)) await res.body?.cancel();
    else size = await countBytes(uri, res); // chunked response without a length
  }
  const etag = res.headers.get("etag");
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
    await res.body?.cancel();
    return emptyStream();
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UnreachableError(uri, `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
  }
  if (!res.body) return emptyStream();
  const body = Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
  // A server that ignores Range answers 200 with the whole file; cut the range out ourselves.
  if (range && res.status === 200) return Readable.from(slice(body, range));
  return body;
}

/**
 * fetch with redirects followed and a deadline on connecting and receiving the response headers
 * (the body then streams at its own pace; undici's own 300 s body timeout still applies).
 */
async function request(
  uri: string,
  method: "GET" | "HEAD",
  opts: InputOptions,
  headers: Record<string, string> = {},
): Promise<Response> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    // identity: sizes and byte ranges must be of the stored bytes, which fetch would otherwise
    // transparently decompress when a server applies Content-Encoding: gzip.
    return await fetch(uri, {
      method,
      headers: { "Accept-Encoding": "identity", ...headers },
      redirect: "follow",
      signal: controller.signal,
    });
  } catch (err) {
    if (controller.signal.aborted) {
      throw new UnreachableError(uri, `timed out after ${timeoutMs} ms waiting for a response`);
    }
    throw new UnreachableError(uri, describeError(err));
  } finally {
    clearTimeout(timer);
  }
}

async function countBytes(uri: string, res: Response): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of Readable.fromWeb(res.body as ReadableStream<Uint8Array>)) n += (chunk as Buffer).length;
  } catch (err) {
    throw new UnreachableError(uri, describeError(err));
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
