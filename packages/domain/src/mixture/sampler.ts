import { ValidationError } from "../errors.js";
import type { Manifest } from "../dataset.js";
import { hash32, mixKey, mulmod, Permutation, TAG } from "./permute.js";
import type { MixturePlan, PlanDataset, PlanPhase } from "./plan.js";
import { RowCache } from "./row-cache.js";
import { SequenceBatch } from "./sequence-batch.js";

/**
 * The stateless sampler: global sequence index → (component, dataset, shard, row, token span).
 * Mirrors tokenmill_trainer/sampler.py line for line; test/contracts/README.md states the rules.
 *
 * 1. Phases hold whole blocks; a schedule segment is a run of blocks with its own counts.
 * 2. In a segment of nb blocks of B sequences, component c gets k_c = floor(S_c/nb) sequences in
 *    every block plus one "extra" in R_c = S_c − k_c·nb of the blocks. Extras tile the rows of an
 *    nb-row grid column by column; block b reads row r = b·stride mod nb, so c has an extra in b iff
 *    (r − o_c) mod nb < R_c (o_c = Σ earlier R). Every block holds exactly B sequences, every
 *    component exactly S_c over the segment, and small components are spread over the segment.
 * 3. Inside a block, positions are permuted by a Feistel permutation keyed (seed, phase, block).
 * 4. A component's sequences continue its dataset's stream (offsets carry across segments and
 *    phases): stream position s → pass s div Q, window permute(s mod Q) keyed (seed, dataset, pass).
 * 5. A pass packs the dataset's shards in an order permuted per pass, documents in stored order,
 *    each followed by EOS; window w covers packed tokens [w·L, w·L + L + 1) — L inputs + 1 target.
 *
 * Start-up is O(datasets + phases × components): nothing is read per shard until a dataset is first
 * used. The first sequence of a dataset sums its shard list once (and checks it against the plan);
 * the first sequence of each pass lays out that pass's shard order (both O(shards of that dataset)).
 */
export interface Piece {
  dataset: string;
  shard: string;
  row: number;
  start: number;
  end: number;
  eos_after: boolean;
}

export interface SequenceRef {
  index: number;
  phase: string;
  source: string;
  pass_index: number;
  pieces: Piece[];
}

/** Per-row token counts of one shard (the `num_tokens` column), loaded lazily by the caller. */
export type DocTokens = (dataset: string, shard: string) => ArrayLike<number>;

/** What the sampler reads of a manifest: the shard list (and the totals, checked at once when given). */
export type SamplerManifest = Pick<Manifest, "shards"> & { totals?: Pick<Manifest["totals"], "tokens" | "rows"> };

interface Located {
  phase: PlanPhase;
  component: number;
  dataset: string;
  stream: number;
}

interface DatasetState {
  id: number;
  key: string;
  name: string;
  hash: number;
  shards: SamplerManifest["shards"];
  tokens: number;
  rows: number;
  perPass: number;
  /** tokens + rows of each shard by manifest position; summed on first use. */
  packed: Float64Array | undefined;
  /** Shard file names by manifest position (filled with `packed`: a piece then costs one array
   *  read, not a read of a manifest entry scattered over the heap). */
  files: string[];
  /** Row indexes of at most cacheSize shards (allocated with `packed`). */
  rowCache: RowCache | undefined;
  /** The last few passes' window permutations and shard layouts: a block that straddles a pass
   *  boundary alternates between two passes at random, so one entry would thrash. */
  passes: PassState[];
  last: PassState | undefined;
}

interface PassState {
  pass: number;
  windows: Permutation;
  order: Uint32Array | undefined;
  /** Packed start of each shard position, and every FANOUT-th of them. */
  prefix: Float64Array | undefined;
  top: Float64Array | undefined;
}

/**
 * The row index of one shard is an entry of the dataset's RowCache: [T, rows, every FANOUT-th row
 * start (T entries), packed start of every row (rows + 1 entries)]; a shard holds < 2^32 tokens
 * (Arrow's list<uint32> column has int32 offsets). Searches go through the 1/16 sample first, then
 * scan at most 16 neighbours: with random shards, each binary-search probe of a 500-row shard was a
 * cache miss (the search was 40% of lookup time in a --cpu-prof of bench/mixture-sampler.ts); this
 * touches 2–3 cache lines instead of ~8. The pass layout's shard prefix is searched the same way.
 */
const FANOUT = 16;

/** Per segment: base count k, extras R and extra-grid start o of every component. */
interface SegmentTable {
  blocks: number;
  stride: number;
  startBlock: number;
  k: Float64Array;
  R: Float64Array;
  o: Float64Array;
  offsets: Float64Array;
}

const PASSES_CACHED = 4;

export class Sampler {
  readonly seqLen: number;
  /** Dataset keys by the dataset number that SequenceBatch.dataset holds. */
  readonly datasetKeys: readonly string[];
  private readonly datasets: DatasetState[] = [];
  private readonly byKey = new Map<string, DatasetState>();
  /** [phase][component] → its dataset. */
  private readonly compDs: DatasetState[][];
  private readonly segs: SegmentTable[][];
  private readonly phaseStarts: Float64Array;
  // One-entry block cache: a loader reads consecutive indices, so the block rarely changes.
  private bPi = -1;
  private bSi = -1;
  private bB = -1;
  private bRow = 0;
  private bComp = new Float64Array(0);
  private bPerm = new Permutation(1, 0);
  // Result of the last locateInto (no object per lookup).
  private lPi = 0;
  private lComp = 0;
  private lStream = 0;
  private readonly one = new SequenceBatch(1, 8);

  constructor(
    readonly plan: MixturePlan,
    manifests: Record<string, SamplerManifest>,
    private readonly docTokens: DocTokens,
    private readonly cacheSize = 64,
  ) {
    this.seqLen = plan.seq_len;
    for (const [key, d] of Object.entries(plan.datasets)) {
      const m = manifests[key];
      if (!m) throw new ValidationError(`no manifest for dataset ${d.name} (${key})`, `manifests.${key}`);
      if (d.sequences_per_pass === null || d.tokens === null) throw new ValidationError(`dataset ${d.name} has declared sizes only; plan it over its manifest`, `manifests.${key}`);
      if (m.shards.length !== d.shards) throw new ValidationError(`manifest of ${d.name} lists ${m.shards.length} shards, the plan says ${d.shards}`, `manifests.${key}`);
      if (m.totals) checkTotals(key, d, m.totals.tokens, m.totals.rows);
      const ds: DatasetState = {
        id: this.datasets.length,
        key,
        name: d.name,
        hash: hash32(key),
        shards: m.shards,
        tokens: d.tokens,
        rows: d.rows,
        perPass: d.sequences_per_pass,
        packed: undefined,
        files: [],
        rowCache: undefined,
        passes: [],
        last: undefined,
      };
      this.datasets.push(ds);
      this.byKey.set(key, ds);
    }
    this.datasetKeys = this.datasets.map((d) => d.key);
    this.compDs = plan.phases.map((ph) => ph.components.map((c) => this.byKey.get(c.dataset)!));
    this.phaseStarts = Float64Array.from(plan.phases, (p) => p.start_sequence);
    this.segs = plan.phases.map((ph) =>
      ph.segments.map((seg) => {
        const nb = seg.blocks;
        const C = seg.counts.length;
        const t: SegmentTable = { blocks: nb, stride: seg.stride, startBlock: seg.start_block, k: new Float64Array(C), R: new Float64Array(C), o: new Float64Array(C), offsets: Float64Array.from(seg.offsets) };
        let o = 0;
        for (let c = 0; c < C; c++) {
          const k = Math.floor(seg.counts[c]! / nb);
          t.k[c] = k;
          t.R[c] = seg.counts[c]! - k * nb;
          t.o[c] = o;
          o += t.R[c]!;
        }
        return t;
      }),
    );
  }

  numSequences(): number {
    return this.plan.sequences;
  }

  /** Which phase, component and stream position a global index reads (no shard access). */
  locate(index: number): Located {
    this.locateInto(index);
    const phase = this.plan.phases[this.lPi]!;
    return { phase, component: this.lComp, dataset: phase.components[this.lComp]!.dataset, stream: this.lStream };
  }

  /** Component index of each global index (token accounting, dashboards). */
  sourcesOf(indices: ArrayLike<number>): Int32Array {
    const out = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      this.locateInto(indices[i]!);
      out[i] = this.lComp;
    }
    return out;
  }

  lookup(index: number): SequenceRef {
    return this.refAt(this.lookupMany(index, 1, this.one), 0);
  }

  /**
   * Sequences start … start + count − 1 into `out` (reused; grown when needed), without an object
   * per sequence or piece: what a loader should call. `refsOf(out)` gives what `lookup` returns.
   */
  lookupMany(start: number, count: number, out: SequenceBatch): SequenceBatch {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count ${count} is not a non-negative integer`);
    if (count > 0) this.checkIndex(start + count - 1);
    out.reset(start, count);
    for (let i = 0; i < count; i++) this.readInto(start + i, out);
    out.close();
    return out;
  }

  /** Shard file of a piece in a SequenceBatch. */
  shardFile(dataset: number, shard: number): string {
    const ds = this.datasets[dataset]!;
    return ds.files[shard] ?? ds.shards[shard]!.file;
  }

  /** The batch as SequenceRef objects (what `lookup` returns for each index). */
  refsOf(b: SequenceBatch): SequenceRef[] {
    const refs: SequenceRef[] = [];
    for (let i = 0; i < b.size; i++) refs.push(this.refAt(b, i));
    return refs;
  }

  private refAt(b: SequenceBatch, i: number): SequenceRef {
    const pieces: Piece[] = [];
    for (let j = b.firstPiece[i]!; j < b.firstPiece[i + 1]!; j++) {
      const ds = this.datasets[b.dataset[j]!]!;
      pieces.push({ dataset: ds.key, shard: ds.files[b.shard[j]!]!, row: b.row[j]!, start: b.start[j]!, end: b.end[j]!, eos_after: b.eosAfter[j] === 1 });
    }
    const phase = this.plan.phases[b.phase[i]!]!;
    return { index: b.first + i, phase: phase.name, source: phase.components[b.component[i]!]!.name, pass_index: b.passIndex[i]!, pieces };
  }

  private checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.plan.sequences) {
      throw new RangeError(`sequence index ${index} outside [0, ${this.plan.sequences})`);
    }
  }

  /** Sets lPi, lComp, lStream for a global index. */
  private locateInto(index: number): void {
    this.checkIndex(index);
    const starts = this.phaseStarts;
    let pi = starts.length - 1;
    while (starts[pi]! > index) pi--;
    const phase = this.plan.phases[pi]!;
    const local = index - starts[pi]!;
    const B = phase.block_size;
    const blockIdx = Math.floor(local / B);
    const segs = this.segs[pi]!;
    let si = segs.length - 1;
    while (segs[si]!.startBlock > blockIdx) si--;
    const seg = segs[si]!;
    const b = blockIdx - seg.startBlock;
    if (this.bPi !== pi || this.bSi !== si || this.bB !== b) this.loadBlock(pi, si, seg, b, blockIdx, B);
    const p = this.bPerm.at(local - blockIdx * B);
    const comp = this.bComp;
    let c = 0;
    while (p >= comp[c + 1]!) c++;
    const rank = p - comp[c]!;
    const nb = seg.blocks;
    const k = seg.k[c]!;
    let within: number;
    if (rank < k) within = b * k + rank;
    else within = k * nb + ((((this.bRow - seg.o[c]!) % nb) + nb) % nb);
    this.lPi = pi;
    this.lComp = c;
    this.lStream = seg.offsets[c]! + within;
  }

  /** Cumulative slot starts of each component in block b of a segment (length C + 1), and the block's permutation. */
  private loadBlock(pi: number, si: number, seg: SegmentTable, b: number, blockIdx: number, B: number): void {
    const nb = seg.blocks;
    const r = mulmod(b, seg.stride, nb);
    const C = seg.k.length;
    const comp = new Float64Array(C + 1);
    for (let c = 0; c < C; c++) {
      const extra = ((((r - seg.o[c]!) % nb) + nb) % nb) < seg.R[c]! ? 1 : 0;
      comp[c + 1] = comp[c]! + seg.k[c]! + extra;
    }
    if (comp[C] !== B) throw new Error(`block ${b} holds ${comp[C]} sequences, expected ${B}`);
    this.bPi = pi;
    this.bSi = si;
    this.bB = b;
    this.bRow = r;
    this.bComp = comp;
    this.bPerm = new Permutation(B, mixKey(this.plan.seed, TAG.block, pi, blockIdx));
  }

  private readInto(index: number, out: SequenceBatch): void {
    this.locateInto(index);
    const ds = this.compDs[this.lPi]![this.lComp]!;
    const L = this.seqLen;
    const stream = this.lStream;
    const pass = Math.floor(stream / ds.perPass);
    const ps = this.passState(ds, pass);
    const w = ps.windows.at(stream - pass * ds.perPass);
    if (ps.order === undefined) this.layOut(ds, ps);
    const order = ps.order!;
    const prefix = ps.prefix!;
    out.beginSequence(this.lPi, this.lComp, pass);
    const offset = w * L;
    let need = L + 1;
    // Last shard position whose packed start ≤ offset (skips empty shards).
    let pos = lastAtMost64(prefix, ps.top!, offset);
    let within = offset - prefix[pos]!;
    while (need > 0) {
      const shardIndex = order[pos]!;
      const cache = ds.rowCache!;
      let b0 = cache.baseOf[shardIndex]!;
      if (b0 < 0) b0 = this.loadDocs(ds, shardIndex);
      const rows = cache.pool; // read after loadDocs: the pool may have grown
      const base = b0 + 2 + rows[b0]!; // row starts follow the header and the sample
      const last = base + rows[b0 + 1]!;
      let i = rowAtMost(rows, b0 + 2, base, last, within);
      let start = within - rows[i]!;
      while (need > 0 && i < last) {
        const row = i - base;
        const len = rows[i + 1]! - rows[i]!; // num_tokens + 1 (EOS)
        const end = Math.min(len, start + need);
        out.piece(ds.id, shardIndex, row, Math.min(start, len - 1), Math.min(end, len - 1), end === len);
        need -= end - start;
        i++;
        start = 0;
      }
      pos++;
      within = 0;
    }
  }

  private passState(ds: DatasetState, pass: number): PassState {
    const hit = ds.last;
    if (hit !== undefined && hit.pass === pass) return hit;
    const list = ds.passes;
    for (let i = 0; i < list.length; i++) if (list[i]!.pass === pass) return (ds.last = list[i]!);
    const ps: PassState = { pass, windows: new Permutation(ds.perPass, mixKey(this.plan.seed, TAG.window, ds.hash, pass)), order: undefined, prefix: undefined, top: undefined };
    if (list.length >= PASSES_CACHED) list.shift();
    list.push(ps);
    return (ds.last = ps);
  }

  /** The pass's shard order and packed start of each position: O(shards), once per pass. */
  private layOut(ds: DatasetState, ps: PassState): void {
    const packed = ds.packed ?? this.sumShards(ds);
    const n = packed.length;
    const perm = new Permutation(n, mixKey(this.plan.seed, TAG.shard, ds.hash, ps.pass));
    const order = new Uint32Array(n);
    const prefix = new Float64Array(n);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const s = perm.at(i);
      order[i] = s;
      prefix[i] = acc;
      acc += packed[s]!;
    }
    ps.order = order;
    ps.prefix = prefix;
    ps.top = sample(prefix, new Float64Array(Math.ceil(n / FANOUT)));
  }

  /** tokens + rows per shard from the manifest, checked against the plan: the only full read of a shard list. */
  private sumShards(ds: DatasetState): Float64Array {
    const shards = ds.shards;
    const packed = new Float64Array(shards.length);
    const files: string[] = new Array(shards.length);
    let tokens = 0;
    let rows = 0;
    for (let i = 0; i < packed.length; i++) {
      const s = shards[i]!;
      tokens += s.tokens;
      rows += s.rows;
      packed[i] = s.tokens + s.rows;
      files[i] = s.file;
    }
    checkTotals(ds.key, this.plan.datasets[ds.key]!, tokens, rows);
    ds.files = files;
    ds.rowCache = new RowCache(shards.length, this.cacheSize);
    ds.packed = packed;
    return packed;
  }

  /** Reads a shard's num_tokens into the row cache; returns the entry's base. */
  private loadDocs(ds: DatasetState, shardIndex: number): number {
    const packed = ds.packed!;
    const file = ds.shards[shardIndex]!.file;
    const counts = this.docTokens(ds.key, file);
    const R = counts.length;
    const T = Math.ceil((R + 1) / FANOUT);
    const starts = new Uint32Array(R + 1);
    let acc = 0;
    for (let i = 0; i < R; i++) {
      acc += Number(counts[i]) + 1;
      if (acc > 0xffffffff) throw new Error(`shard ${file} of ${ds.key} holds more than 2^32 - 1 tokens + EOS`);
      starts[i + 1] = acc;
    }
    if (acc !== packed[shardIndex]) {
      throw new Error(`shard ${file} of ${ds.key}: num_tokens sum to ${acc - counts.length}, the manifest says ${packed[shardIndex]! - counts.length}`);
    }
    const cache = ds.rowCache!;
    const b0 = cache.alloc(shardIndex, 2 + T + R + 1);
    const pool = cache.pool;
    pool[b0] = T;
    pool[b0 + 1] = R;
    for (let t = 0; t < T; t++) pool[b0 + 2 + t] = starts[t * FANOUT]!;
    pool.set(starts, b0 + 2 + T);
    return b0;
  }
}

function checkTotals(key: string, d: PlanDataset, tokens: number, rows: number): void {
  if (tokens === d.tokens && rows === d.rows) return;
  throw new ValidationError(
    `manifest of ${d.name} holds ${tokens} tokens in ${rows} rows, the plan says ${d.tokens} in ${d.rows} (${d.sequences_per_pass} sequences per pass)`,
    `manifests.${key}`,
  );
}

function sample(a: Float64Array, top: Float64Array): Float64Array {
  for (let t = 0; t < top.length; t++) top[t] = a[t * FANOUT]!;
  return top;
}

/** Last i with a[i] ≤ x, for a non-decreasing `a` with a[0] ≤ x; `top` = every FANOUT-th entry. */
function lastAtMost64(a: Float64Array, top: Float64Array, x: number): number {
  let lo = 0;
  let hi = top.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (top[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  let i = lo * FANOUT + 1;
  const end = Math.min(i + FANOUT - 1, a.length);
  while (i < end && a[i]! <= x) i++;
  return i - 1;
}

/** Position in `rows` of the last row start ≤ x: the sample lies at [top, base), the starts at
 *  [base, last] with rows[base] = 0 ≤ x. */
function rowAtMost(rows: Uint32Array, top: number, base: number, last: number, x: number): number {
  let lo = 0;
  let hi = base - top - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (rows[top + mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  let i = base + lo * FANOUT + 1;
  const end = Math.min(i + FANOUT - 1, last + 1);
  while (i < end && rows[i]! <= x) i++;
  return i - 1;
}
