import { Decompress } from "fzstd";

/** A corrupt or truncated zstd stream; the JSONL reader turns it into a `truncated` input issue. */
export class ZstdError extends Error {
  readonly code = "ZSTD_DATA_ERROR";
  constructor(message: string) {
    super(`zstd: ${message}`);
    this.name = "ZstdError";
  }
}

export function isZstdError(err: unknown): boolean {
  return err instanceof ZstdError;
}

/**
 * Streams zstd-decompressed bytes (fzstd, pure JS; several concatenated frames are one stream).
 * Output chunks are copied: the decompressor may reuse its window buffer for later blocks.
 */
export async function* zstdDecompress(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let out: Uint8Array[] = [];
  const dec = new Decompress((chunk) => {
    if (chunk.byteLength > 0) out.push(Buffer.from(chunk));
  });
  const push = (chunk: Uint8Array, final: boolean) => {
    try {
      dec.push(chunk, final);
    } catch (err) {
      throw new ZstdError(err instanceof Error ? err.message : String(err));
    }
  };
  // Whatever was decoded before a failure goes through first, as with gunzip.
  let failure: unknown;
  for await (const chunk of input) {
    try {
      push(chunk, false);
    } catch (err) {
      failure = err;
    }
    const ready = out;
    out = [];
    yield* ready;
    if (failure) throw failure;
  }
  try {
    push(new Uint8Array(0), true);
  } catch (err) {
    failure = err;
  }
  yield* out;
  if (failure) throw failure;
}
