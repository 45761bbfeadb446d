import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { NotFoundError } from "@tokenmill/domain";
import type { ObjectInfo, ObjectStore } from "@tokenmill/storage";
import { type ReaderOptions, type ReadEvent, type ReadState, readJsonl } from "./reader.js";

/** In-memory ObjectStore for unit tests (no I/O; keys → bytes). */
export class MemStore implements ObjectStore {
  readonly uri = "mem://test";
  readonly objects = new Map<string, Buffer>();
  url(key: string): string {
    return `${this.uri}/${key}`;
  }
  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.objects.set(key, Buffer.from(body));
  }
  async putStream(key: string, body: Readable): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(Buffer.from(c as Uint8Array));
    this.objects.set(key, Buffer.concat(parts));
  }
  async get(key: string): Promise<Buffer> {
    const v = this.objects.get(key);
    if (!v) throw new NotFoundError("object", key);
    return v;
  }
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    return (await this.get(key)).subarray(start, end);
  }
  async getStream(key: string): Promise<Readable> {
    return Readable.from([await this.get(key)]);
  }
  async head(key: string): Promise<ObjectInfo | null> {
    const v = this.objects.get(key);
    return v ? { key, size: v.length } : null;
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort().map((key) => ({ key, size: this.objects.get(key)!.length }));
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}

/** A byte source that yields `data` in chunks of `chunkSize` (1 stresses line splitting). */
export async function* chunked(data: Uint8Array, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, i + chunkSize);
}

export function jsonl(...records: unknown[]): Buffer {
  return Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

export function gz(data: Uint8Array): Buffer {
  return gzipSync(data);
}

/** Runs the reader to the end and returns its events and state. */
export async function readAll(data: Uint8Array, uri: string, options: ReaderOptions = {}, chunkSize?: number) {
  const state: ReadState = { bytes_read: 0, issues: [] };
  const events: ReadEvent[] = [];
  for await (const ev of readJsonl(chunked(data, chunkSize), uri, options, state)) events.push(ev);
  return { events, state, docs: events.flatMap((e) => (e.kind === "doc" ? [e.doc] : [])), drops: events.flatMap((e) => (e.kind === "drop" ? [e.drop] : [])) };
}
