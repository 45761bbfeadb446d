/** An input as the readers see it: its bytes as a stream and, where the store allows, by range. */
export interface InputSource {
  /** The input's bytes as stored (a Readable works). Readers that use ranges close it unread. */
  stream: AsyncIterable<Uint8Array>;
  /** Bytes [start, end) of the input (openInput(uri, opts, {start, end})); lets Parquet read by range. */
  openRange?: (start: number, end: number) => Promise<AsyncIterable<Uint8Array>>;
  /** The input's size in bytes, needed with openRange. */
  size?: number;
  /** Releases the stream when a reader does not consume it (destroys a Readable). */
  close(): Promise<void>;
}

/** Wraps a stream (and optional range access) as an InputSource. */
export function inputSource(
  stream: AsyncIterable<Uint8Array>,
  range?: { openRange?: InputSource["openRange"]; size?: number },
): InputSource {
  return {
    stream,
    ...(range?.openRange ? { openRange: range.openRange } : {}),
    ...(range?.size !== undefined ? { size: range.size } : {}),
    async close() {
      const s = stream as { destroy?: () => void; return?: () => unknown };
      if (typeof s.destroy === "function") s.destroy();
      else if (typeof s.return === "function") await s.return();
    },
  };
}

/**
 * A stream opened on its first read. Readers that go by range (a byte-range part of a split input,
 * Parquet) close it unread, so the whole input is never requested from the store for them.
 */
export function lazyStream(open: () => Promise<AsyncIterable<Uint8Array>>): AsyncIterable<Uint8Array> & { destroy(): void } {
  let opened: AsyncIterable<Uint8Array> | undefined;
  let closed = false;
  return {
    async *[Symbol.asyncIterator]() {
      if (closed) throw new Error("the input was closed before it was read");
      opened = await open();
      yield* opened;
    },
    destroy() {
      closed = true;
      const s = opened as { destroy?: () => void } | undefined;
      s?.destroy?.();
    },
  };
}

/**
 * Reads the head of a stream without losing it: at least `min` bytes (chunks are joined only when
 * the first is shorter), undefined for an empty stream; `stream` replays the head, then the rest.
 */
export async function peek(
  stream: AsyncIterable<Uint8Array>,
  min = 1,
): Promise<{ head: Uint8Array | undefined; stream: AsyncIterable<Uint8Array> }> {
  const it = stream[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let length = 0;
  while (length < min) {
    const r = await it.next();
    if (r.done) break;
    parts.push(r.value);
    length += r.value.byteLength;
  }
  const head = parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
  async function* replay(): AsyncGenerator<Uint8Array> {
    if (head === undefined) return;
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { head, stream: replay() };
}
