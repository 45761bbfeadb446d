import type { ObjectStore } from "@tokenmill/storage";

/**
 * One task's dedup records for one barrier, a single object read by byte ranges (little-endian u32
 * words throughout):
 *
 *   header   magic "TMD1", version, kind (0 exact, 1 minhash), docs, partitions P, sigWords,
 *            keyWords, idsBytes, then P+1 record offsets (records before each partition)
 *   docs     per document reaching the barrier, in read order: ordinal, idStart, idLen, signature
 *            (sigWords words; none for exact) — fixed size, so document i is at a known offset
 *   records  (key: keyWords words, doc index, ordinal) sorted by partition: exact keys are the
 *            128-bit content hash, minhash keys the 64-bit band keys (one per band and document)
 *   ids      the doc_ids' UTF-8 bytes
 *
 * A partition job reads its slice of every task's records; verification and the cluster job read
 * single documents. Nothing ever reads all tasks' signatures in one place.
 */
export const TASK_FILE_MAGIC = 0x31444d54; // "TMD1"
const FIXED_HEADER_WORDS = 8;

export interface TaskFileHeader {
  kind: 0 | 1;
  docs: number;
  partitions: number;
  sigWords: number;
  keyWords: number;
  idsBytes: number;
  /** Record offsets (in records) of each partition, P+1 entries. */
  offsets: Uint32Array;
  docWords: number;
  recWords: number;
  docsAt: number;
  recordsAt: number;
  idsAt: number;
}

/** A growable Uint32Array. */
export class U32List {
  buf = new Uint32Array(1024);
  length = 0;
  push(...xs: number[]): void {
    this.reserve(xs.length);
    for (const x of xs) this.buf[this.length++] = x;
  }
  pushArray(xs: Uint32Array): void {
    this.reserve(xs.length);
    this.buf.set(xs, this.length);
    this.length += xs.length;
  }
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint32Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  view(): Uint32Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Accumulates one task's records in memory and writes the task file. */
export class TaskFileBuilder {
  private readonly docs = new U32List();
  private readonly parts: U32List[];
  private readonly ids: Buffer[] = [];
  private idsBytes = 0;
  count = 0;

  constructor(
    readonly kind: 0 | 1,
    readonly partitions: number,
    readonly sigWords: number,
    readonly keyWords: number,
  ) {
    this.parts = Array.from({ length: partitions }, () => new U32List());
  }

  /** Adds a document; returns its index in the file. */
  addDoc(ordinal: number, docId: string, sig: Uint32Array | null): number {
    const id = Buffer.from(docId, "utf8");
    this.docs.push(ordinal, this.idsBytes, id.length);
    if (this.sigWords > 0) this.docs.pushArray(sig ?? new Uint32Array(this.sigWords));
    this.ids.push(id);
    this.idsBytes += id.length;
    return this.count++;
  }

  /** Adds a key record (keyWords words at key[at…]); its first word picks the partition. */
  addRecord(key: Uint32Array, at: number, docIndex: number, ordinal: number): void {
    const part = this.parts[key[at]! % this.partitions]!;
    for (let i = 0; i < this.keyWords; i++) part.push(key[at + i]!);
    part.push(docIndex, ordinal);
  }

  build(): Buffer {
    const P = this.partitions;
    const recWords = this.keyWords + 2;
    const header = new Uint32Array(FIXED_HEADER_WORDS + P + 1);
    header.set([TASK_FILE_MAGIC, 1, this.kind, this.count, P, this.sigWords, this.keyWords, this.idsBytes]);
    let recs = 0;
    for (let p = 0; p < P; p++) {
      header[FIXED_HEADER_WORDS + p] = recs;
      recs += this.parts[p]!.length / recWords;
    }
    header[FIXED_HEADER_WORDS + P] = recs;
    const chunks: Buffer[] = [u32Bytes(header), u32Bytes(this.docs.view())];
    for (const p of this.parts) chunks.push(u32Bytes(p.view()));
    chunks.push(...this.ids);
    return Buffer.concat(chunks);
  }
}

function u32Bytes(a: Uint32Array): Buffer {
  // The engine only runs on little-endian hosts (x86-64, arm64); the format is little-endian.
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function words(b: Buffer): Uint32Array {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return new Uint32Array(copy.buffer, 0, b.length >>> 2);
}

export async function readTaskHeader(store: ObjectStore, key: string): Promise<TaskFileHeader> {
  const fixed = words(await store.getRange(key, 0, FIXED_HEADER_WORDS * 4));
  if (fixed[0] !== TASK_FILE_MAGIC || fixed[1] !== 1) throw new Error(`${key} is not a version-1 dedup task file`);
  const P = fixed[4]!;
  const offsets = words(await store.getRange(key, FIXED_HEADER_WORDS * 4, (FIXED_HEADER_WORDS + P + 1) * 4));
  const sigWords = fixed[5]!;
  const keyWords = fixed[6]!;
  const docWords = 3 + sigWords;
  const recWords = keyWords + 2;
  const docsAt = (FIXED_HEADER_WORDS + P + 1) * 4;
  const recordsAt = docsAt + fixed[3]! * docWords * 4;
  return {
    kind: fixed[2] as 0 | 1,
    docs: fixed[3]!,
    partitions: P,
    sigWords,
    keyWords,
    idsBytes: fixed[7]!,
    offsets,
    docWords,
    recWords,
    docsAt,
    recordsAt,
    idsAt: recordsAt + offsets[P]! * recWords * 4,
  };
}

/** The records of one partition (recWords words each). */
export async function readPartitionRecords(store: ObjectStore, key: string, h: TaskFileHeader, partition: number): Promise<Uint32Array> {
  const from = h.offsets[partition]!;
  const to = h.offsets[partition + 1]!;
  if (to === from) return new Uint32Array(0);
  return words(await store.getRange(key, h.recordsAt + from * h.recWords * 4, h.recordsAt + to * h.recWords * 4));
}

export interface DocRecord {
  ordinal: number;
  idStart: number;
  idLen: number;
  sig: Uint32Array;
}

// Ranges closer than this are fetched in one request: fewer round trips to S3 for a few wasted bytes.
const COALESCE_GAP = 64 * 1024;

/** Byte ranges fetched with nearby ranges merged into one request. */
async function readRanges(store: ObjectStore, key: string, ranges: [number, number][]): Promise<Buffer[]> {
  const order = ranges.map((_, i) => i).sort((a, b) => ranges[a]![0] - ranges[b]![0]);
  const out: Buffer[] = new Array(ranges.length);
  let i = 0;
  while (i < order.length) {
    const start = ranges[order[i]!]![0];
    let end = ranges[order[i]!]![1];
    let j = i + 1;
    while (j < order.length && ranges[order[j]!]![0] <= end + COALESCE_GAP) {
      end = Math.max(end, ranges[order[j]!]![1]);
      j++;
    }
    const buf = await store.getRange(key, start, end);
    for (let k = i; k < j; k++) {
      const [s, e] = ranges[order[k]!]!;
      out[order[k]!] = buf.subarray(s - start, e - start);
    }
    i = j;
  }
  return out;
}

/** Document records by index. */
export async function readDocRecords(store: ObjectStore, key: string, h: TaskFileHeader, indices: number[]): Promise<Map<number, DocRecord>> {
  const uniq = [...new Set(indices)];
  const bufs = await readRanges(
    store,
    key,
    uniq.map((i) => [h.docsAt + i * h.docWords * 4, h.docsAt + (i + 1) * h.docWords * 4]),
  );
  const out = new Map<number, DocRecord>();
  uniq.forEach((idx, k) => {
    const w = words(bufs[k]!);
    out.set(idx, { ordinal: w[0]!, idStart: w[1]!, idLen: w[2]!, sig: w.subarray(3) });
  });
  return out;
}

/** doc_ids of the given document records. */
export async function readDocIds(store: ObjectStore, key: string, h: TaskFileHeader, docs: DocRecord[]): Promise<string[]> {
  const bufs = await readRanges(
    store,
    key,
    docs.map((d) => [h.idsAt + d.idStart, h.idsAt + d.idStart + d.idLen]),
  );
  return bufs.map((b) => b.toString("utf8"));
}
