/**
 * Sequences read by `Sampler.lookupMany` as flat typed arrays (one entry per sequence, one per
 * piece), reused across calls so a loader allocates nothing per sequence. Piece j of sequence i is
 * at firstPiece[i] ≤ j < firstPiece[i + 1]: `tokens[start:end]` of row `row` of shard `shard`
 * (manifest position) of dataset `dataset` (index into `Sampler.datasetKeys`), then EOS when
 * `eosAfter[j]` is 1.
 */
export class SequenceBatch {
  /** Global index of sequence 0. */
  first = 0;
  /** Sequences held. */
  size = 0;
  /** Pieces held. */
  pieces = 0;
  phase: Uint32Array;
  component: Uint32Array;
  passIndex: Float64Array;
  firstPiece: Uint32Array;
  dataset: Uint32Array;
  shard: Uint32Array;
  row: Uint32Array;
  start: Uint32Array;
  end: Uint32Array;
  eosAfter: Uint8Array;

  /** Capacities grow on demand; a sequence of seq_len tokens over documents of ~D tokens has ~seq_len/D + 1 pieces. */
  constructor(sequences = 1024, pieces = sequences * 4) {
    this.phase = new Uint32Array(sequences);
    this.component = new Uint32Array(sequences);
    this.passIndex = new Float64Array(sequences);
    this.firstPiece = new Uint32Array(sequences + 1);
    this.dataset = new Uint32Array(pieces);
    this.shard = new Uint32Array(pieces);
    this.row = new Uint32Array(pieces);
    this.start = new Uint32Array(pieces);
    this.end = new Uint32Array(pieces);
    this.eosAfter = new Uint8Array(pieces);
  }

  /** Empties the batch for `count` sequences starting at global index `first`. */
  reset(first: number, count: number): void {
    this.first = first;
    this.size = 0;
    this.pieces = 0;
    if (count > this.phase.length) {
      const n = Math.max(count, this.phase.length * 2);
      this.phase = new Uint32Array(n);
      this.component = new Uint32Array(n);
      this.passIndex = new Float64Array(n);
      this.firstPiece = new Uint32Array(n + 1);
    }
  }

  beginSequence(phase: number, component: number, pass: number): void {
    const i = this.size++;
    this.phase[i] = phase;
    this.component[i] = component;
    this.passIndex[i] = pass;
    this.firstPiece[i] = this.pieces;
  }

  piece(dataset: number, shard: number, row: number, start: number, end: number, eosAfter: boolean): void {
    const j = this.pieces;
    if (j === this.dataset.length) this.growPieces();
    this.dataset[j] = dataset;
    this.shard[j] = shard;
    this.row[j] = row;
    this.start[j] = start;
    this.end[j] = end;
    this.eosAfter[j] = eosAfter ? 1 : 0;
    this.pieces = j + 1;
  }

  /** Seals the last sequence's piece range. */
  close(): void {
    this.firstPiece[this.size] = this.pieces;
  }

  private growPieces(): void {
    const n = Math.max(16, this.dataset.length * 2);
    const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.dataset = grow(this.dataset, (k) => new Uint32Array(k));
    this.shard = grow(this.shard, (k) => new Uint32Array(k));
    this.row = grow(this.row, (k) => new Uint32Array(k));
    this.start = grow(this.start, (k) => new Uint32Array(k));
    this.end = grow(this.end, (k) => new Uint32Array(k));
    this.eosAfter = grow(this.eosAfter, (k) => new Uint8Array(k));
  }
}
