import { createHash } from "node:crypto";
import { SHARD_METADATA_KEYS, SHARD_SCHEMA_VERSION, type ShardEntry, type TokenizerInfo } from "@tokenmill/domain";
import {
  Field,
  Float32,
  List,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Uint32,
  Utf8,
  type Data,
  type DataType,
} from "apache-arrow";
import type { Doc } from "./types.js";

/** Where finished shards go: only `put` of the ObjectStore interface is needed. */
export interface ShardSink {
  put(key: string, body: Uint8Array | string): Promise<void>;
}

export interface ShardWriterOptions {
  sink: ShardSink;
  /** Key prefix of the dataset version folder, e.g. `datasets/web/<fp>/` ("" for a bare folder). */
  prefix: string;
  taskIndex: number;
  fingerprint: string;
  tokenizer: TokenizerInfo;
  batchRows: number;
  shardMaxTokens: number;
  keepText: boolean;
  source: string;
  file: string;
  /**
   * Score columns: one non-null float32 column per name, after `meta`, holding `doc.fields[name]`
   * (NaN when a document has no numeric value). None (the default) leaves the schema and bytes as before.
   */
  scoreColumns?: string[];
}

// The list item field is nullable (though never null) so the type is plain `list<uint32>`, which
// is what pyarrow and polars build by default and compare equal to.
// Utf8 offsets are int32: cut a record batch before its text or meta bytes could overflow them.
const MAX_BATCH_BYTES = 1 << 30;

/** `shard-<task 5 digits>-<part 4 digits>.arrow` */
export function shardFileName(taskIndex: number, part: number): string {
  return `shard-${String(taskIndex).padStart(5, "0")}-${String(part).padStart(4, "0")}.arrow`;
}

/**
 * Writes kept documents into Arrow IPC *file* shards. Rows are grouped into record batches of
 * `batchRows`; a shard closes once it holds ≥ `shardMaxTokens` tokens (documents are never split).
 * Nothing time- or host-dependent goes into the bytes, so equal inputs give equal shards.
 */
export class ShardWriter {
  readonly shards: ShardEntry[] = [];
  private readonly schema: Schema;
  private batches: RecordBatch[] = [];
  private rows: Doc[] = [];
  private rowBytes = 0;
  private shardRows = 0;
  private shardTokens = 0;

  constructor(private readonly o: ShardWriterOptions) {
    const meta = new Map<string, string>([
      [SHARD_METADATA_KEYS.schemaVersion, String(SHARD_SCHEMA_VERSION)],
      [SHARD_METADATA_KEYS.fingerprint, o.fingerprint],
      [SHARD_METADATA_KEYS.tokenizerId, o.tokenizer.id],
      [SHARD_METADATA_KEYS.tokenizerVocabSha256, o.tokenizer.vocab_sha256],
      [SHARD_METADATA_KEYS.vocabSize, String(o.tokenizer.vocab_size)],
    ]);
    const fields = [
      new Field("doc_id", new Utf8(), false),
      new Field("tokens", new List(new Field("item", new Uint32(), true)), false),
      new Field("num_tokens", new Uint32(), false),
      ...(o.keepText ? [new Field("text", new Utf8(), false)] : []),
      new Field("meta", new Utf8(), false),
      ...(o.scoreColumns ?? []).map((name) => new Field(name, new Float32(), false)),
    ];
    this.schema = new Schema(fields, meta);
  }

  async add(doc: Doc): Promise<void> {
    if (!doc.tokens) throw new Error(`document ${doc.doc_id} reached the writer untokenized`);
    this.rows.push(doc);
    this.rowBytes += doc.text.length * 3;
    this.shardRows += 1;
    this.shardTokens += doc.tokens.length;
    if (this.rows.length >= this.o.batchRows || this.rowBytes >= MAX_BATCH_BYTES) this.flushBatch();
    if (this.shardTokens >= this.o.shardMaxTokens) await this.closeShard();
  }

  /** Writes the last, partial shard. */
  async finish(): Promise<ShardEntry[]> {
    await this.closeShard();
    return this.shards;
  }

  private flushBatch(): void {
    if (this.rows.length === 0) return;
    const docs = this.rows;
    this.rows = [];
    this.rowBytes = 0;
    const metas = docs.map((d) =>
      JSON.stringify({ source: this.o.source, file: this.o.file, line: d.line, byte_offset: d.byte_offset, fields: d.fields }),
    );
    const children: Data[] = [
      utf8Data(docs.map((d) => d.doc_id)),
      tokensData(docs.map((d) => d.tokens!)),
      makeData({ type: new Uint32(), length: docs.length, nullCount: 0, data: Uint32Array.from(docs, (d) => d.tokens!.length) }),
      ...(this.o.keepText ? [utf8Data(docs.map((d) => d.text))] : []),
      utf8Data(metas),
      ...(this.o.scoreColumns ?? []).map((name) =>
        makeData({ type: new Float32(), length: docs.length, nullCount: 0, data: Float32Array.from(docs, (d) => (typeof d.fields[name] === "number" ? (d.fields[name] as number) : NaN)) }),
      ),
    ];
    const data = makeData({ type: new Struct(this.schema.fields), length: docs.length, nullCount: 0, children });
    this.batches.push(new RecordBatch(this.schema, data));
  }

  private async closeShard(): Promise<void> {
    this.flushBatch();
    if (this.shardRows === 0) return;
    const writer = new RecordBatchFileWriter();
    writer.reset(undefined, this.schema);
    for (const batch of this.batches) writer.write(batch);
    writer.finish();
    const bytes = writer.toUint8Array(true);
    const file = shardFileName(this.o.taskIndex, this.shards.length);
    await this.o.sink.put(this.o.prefix + file, bytes);
    this.shards.push({
      file,
      rows: this.shardRows,
      tokens: this.shardTokens,
      bytes: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
    this.batches = [];
    this.shardRows = 0;
    this.shardTokens = 0;
  }
}

const encoder = new TextEncoder();

function utf8Data(values: string[]): Data<DataType> {
  const encoded = values.map((v) => encoder.encode(v));
  const valueOffsets = new Int32Array(values.length + 1);
  let total = 0;
  encoded.forEach((e, i) => {
    total += e.byteLength;
    valueOffsets[i + 1] = total;
  });
  const data = new Uint8Array(total);
  encoded.forEach((e, i) => data.set(e, valueOffsets[i]));
  return makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets, data });
}

function tokensData(lists: Uint32Array[]): Data<DataType> {
  const valueOffsets = new Int32Array(lists.length + 1);
  let total = 0;
  lists.forEach((l, i) => {
    total += l.length;
    valueOffsets[i + 1] = total;
  });
  const values = new Uint32Array(total);
  lists.forEach((l, i) => values.set(l, valueOffsets[i]));
  const child = makeData({ type: new Uint32(), length: total, nullCount: 0, data: values });
  return makeData({ type: new List(new Field("item", new Uint32(), true)), length: lists.length, nullCount: 0, valueOffsets, child });
}
