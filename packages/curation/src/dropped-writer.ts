import { createGzip, type Gzip } from "node:zlib";
import type { DroppedRecord } from "@tokenmill/domain";
import type { Drop } from "./types.js";

/** Characters of a dropped document's text kept in `text_head` for inspection. */
export const TEXT_HEAD_CHARS = 1000;

/** A dropped-file line: the contract's DroppedRecord plus the head of the text when there was one. */
export type DroppedLine = DroppedRecord & { text_head?: string };

/** `dropped/task-<task 5 digits>.jsonl.gz` */
export function droppedFileName(taskIndex: number): string {
  return `dropped/task-${String(taskIndex).padStart(5, "0")}.jsonl.gz`;
}

/**
 * Streams one gzip JSONL line per dropped document and returns the compressed bytes. Deflate
 * output does not depend on how its input was chunked, the gzip header carries mtime 0, and the
 * header's OS byte (which zlib sets from the build platform) is pinned, so the bytes are the same
 * on every machine for the same drops.
 */
export class DroppedWriter {
  private readonly gzip: Gzip = createGzip({ level: 6 });
  private readonly out: Buffer[] = [];
  private readonly done: Promise<void>;
  count = 0;

  constructor(
    private readonly source: string,
    private readonly file: string,
  ) {
    this.gzip.on("data", (c: Buffer) => this.out.push(c));
    this.done = new Promise((resolve, reject) => {
      this.gzip.on("end", resolve);
      this.gzip.on("error", reject);
    });
  }

  add(drop: Drop): void {
    const step = drop.reason.slice(0, drop.reason.indexOf(":"));
    const record: DroppedLine = {
      doc_id: drop.doc_id,
      step,
      reason: drop.reason,
      ...(drop.detail !== undefined ? { detail: drop.detail } : {}),
      source: this.source,
      file: this.file,
      line: drop.line,
      byte_offset: drop.byte_offset,
      ...(drop.text !== undefined ? { text_head: head(drop.text) } : {}),
    };
    this.count += 1;
    this.gzip.write(`${JSON.stringify(record)}\n`);
  }

  async finish(): Promise<Buffer> {
    this.gzip.end();
    await this.done;
    const bytes = Buffer.concat(this.out);
    bytes[9] = 255; // gzip OS field: "unknown" instead of the build platform's code
    return bytes;
  }
}

/** First TEXT_HEAD_CHARS code points, never cutting a surrogate pair. */
function head(text: string): string {
  if (text.length <= TEXT_HEAD_CHARS) return text;
  let end = 0;
  for (let n = 0; n < TEXT_HEAD_CHARS && end < text.length; n++) {
    const c = text.charCodeAt(end);
    end += c >= 0xd800 && c <= 0xdbff && end + 1 < text.length ? 2 : 1;
  }
  return text.slice(0, end);
}
