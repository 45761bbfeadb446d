/**
 * In-memory shapes that flow between the reader, the steps and the writers. Kept separate from
 * the on-disk contracts in @tokenmill/domain, which they are converted to at the edges.
 */

/** One input document on its way through the pipeline. */
export interface Doc {
  /** Input `id` field as a string, else `<file basename>:<line>`. */
  doc_id: string;
  text: string;
  /** 1-based line number in the (decompressed) input; for Parquet and Arrow, the 1-based row number. */
  line: number;
  /** Byte offset of the line's first byte in the decompressed input; 0 for Parquet and Arrow rows. */
  byte_offset: number;
  /** Every other input field (everything except the text and id fields), in input order. */
  fields: Record<string, unknown>;
  /**
   * Position among the task's input records in read order (0-based, dropped lines included), set
   * by runTask: with the task index, the stable key dedup uses across passes and tasks.
   */
  ordinal?: number;
  /** Set by the tokenize step. */
  tokens?: Uint32Array;
}

/** A document a step decided to drop, with `<step>:<rule>` as the reason. */
export interface Drop {
  doc_id: string;
  line: number;
  byte_offset: number;
  reason: string;
  detail?: string;
  /** The (possibly partial) text, when there is one; only its head is kept in dropped files. */
  text?: string;
}

export interface TaskProgress {
  /** Bytes read from the input as stored (compressed bytes for .gz). */
  bytes_read: number;
  docs_in: number;
  docs_kept: number;
  tokens_kept: number;
}
