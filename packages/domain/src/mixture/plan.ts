import { ValidationError } from "../errors.js";
import { canonicalJson, sha256Hex } from "../hash.js";
import { goldenStride } from "./permute.js";

/**
 * Mixture plans (DESIGN.md data contract 4, "Resampling semantics"). A mixture spec says what the
 * user wants (weights, repeats or absolute tokens per component, per phase); the planner turns it
 * into integer budgets in whole sequences of seq_len tokens and the block layout the sampler
 * (sampler.ts, and the Python twin) walks. Field names are snake_case: Python reads the plan.
 */
export const PLAN_VERSION = 1;
export const DEFAULT_MAX_EPOCHS = 64;
/** Sequences per interleaving block; a phase holds whole blocks (≤ this many sequences short). */
export const DEFAULT_BLOCK_SIZE = 65_536;

export interface ComponentSpec {
  name: string;
  /** Dataset version reference: an id, a fingerprint, or a recipe source name. */
  dataset: string;
  /** Exactly one of weight (relative), repeat (passes over the dataset) or tokens (absolute). */
  weight?: number;
  repeat?: number;
  tokens?: number;
  /** Most passes over the dataset through the end of this phase; default 64. */
  max_epochs?: number;
}

export interface ScheduleSpec {
  /** Token offset inside the phase where these weights take over; must be a block boundary. */
  start_tokens: number;
  weights: Record<string, number>;
}

export interface PhaseSpec {
  name: string;
  /** Target tokens; rounded down to whole blocks. Optional when every component is absolute. */
  tokens?: number;
  components: ComponentSpec[];
  schedule?: ScheduleSpec[];
}

export interface MixtureSpec {
  seed: number;
  seq_len: number;
  tokenizer: string;
  block_size?: number;
  phases: PhaseSpec[];
}

/** What the planner needs to know about a dataset version (from its manifest, or declared). */
export interface DatasetInfo {
  key: string;
  name: string;
  fingerprint: string;
  tokenizer: string;
  /** null when unknown (a recipe source whose size the paper does not state). */
  tokens: number | null;
  rows: number;
  shards: number;
  /** true when sizes come from a recipe's declaration rather than a manifest. */
  declared?: boolean;
}

export interface PlanComponent {
  name: string;
  dataset: string;
  form: { weight: number } | { repeat: number } | { tokens: number };
  max_epochs: number;
  sequences: number;
  tokens: number;
  share: number;
  available_tokens: number | null;
  /** Passes over the packed dataset in this phase; cumulative_epochs counts earlier phases too. null: size unknown. */
  epochs: number | null;
  cumulative_epochs: number | null;
  full_passes: number | null;
  partial_pass: number | null;
}

export interface PlanSegment {
  start_block: number;
  blocks: number;
  /** Sequences per component in this segment, and where each component's stream starts. */
  counts: number[];
  offsets: number[];
  /** Row-to-block stride of the extras grid (see sampler.ts). */
  stride: number;
}

export interface PlanPhase {
  name: string;
  target_tokens: number;
  tokens: number;
  sequences: number;
  start_sequence: number;
  block_size: number;
  components: PlanComponent[];
  segments: PlanSegment[];
}

export interface PlanDataset {
  name: string;
  fingerprint: string;
  tokenizer: string;
  tokens: number | null;
  rows: number;
  shards: number;
  /** Windows of seq_len (+1 target token) in one packed pass: floor((tokens + rows − 1) / seq_len). */
  sequences_per_pass: number | null;
  declared: boolean;
}

export interface MixturePlan {
  plan_version: number;
  seed: number;
  seq_len: number;
  tokenizer: string;
  sequences: number;
  tokens: number;
  phases: PlanPhase[];
  datasets: Record<string, PlanDataset>;
  fingerprint: string;
}

export interface BudgetRow {
  phase: string;
  source: string;
  tokens: number;
  share: number;
  available_tokens: number | null;
  epochs: number | null;
}

const fmt = (n: number) => n.toLocaleString("en-US");

function finite(v: unknown, field: string, opts: { min?: number; integer?: boolean; positive?: boolean } = {}): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ValidationError(`must be a finite number, got ${JSON.stringify(v)}`, field);
  if (opts.integer && !Number.isSafeInteger(v)) throw new ValidationError(`must be an integer, got ${v}`, field);
  if (v < (opts.min ?? 0)) throw new ValidationError(`must be ≥ ${opts.min ?? 0}, got ${v}`, field);
  if (opts.positive && v <= 0) throw new ValidationError(`must be > 0, got ${v}`, field);
  return v;
}

/**
 * Largest-remainder apportionment of `total` whole units by non-negative `weights`; ties go to
 * the earlier index, so the result is deterministic.
 */
export function largestRemainder(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new Error("largestRemainder: weights sum to zero");
  const quotas = weights.map((w) => (total * w) / sum);
  const out = quotas.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k]![1]]!++;
  return out;
}

export function sequencesPerPass(tokens: number, rows: number, seqLen: number): number {
  return Math.max(0, Math.floor((tokens + rows - 1) / seqLen));
}

/**
 * Plans a mixture: validates the spec, resolves every component's dataset, normalizes the three
 * forms to whole-sequence budgets (largest remainder), lays out blocks and schedule segments, and
 * rejects budgets beyond max_epochs with the numbers. Pure: `resolve` is a map lookup.
 */
export function planMixture(spec: MixtureSpec, resolve: (ref: string, field: string) => DatasetInfo): MixturePlan {
  const seed = finite(spec.seed, "seed", { integer: true });
  if (seed > 0xffffffff) throw new ValidationError(`must be < 2^32, got ${seed}`, "seed");
  const seqLen = finite(spec.seq_len, "seq_len", { integer: true, positive: true });
  if (typeof spec.tokenizer !== "string" || !spec.tokenizer) throw new ValidationError("must be a tokenizer id such as llama3", "tokenizer");
  const blockSize = finite(spec.block_size ?? DEFAULT_BLOCK_SIZE, "block_size", { integer: true, positive: true });
  if (!Array.isArray(spec.phases) || spec.phases.length === 0) throw new ValidationError("must list at least one phase", "phases");

  const datasets: Record<string, PlanDataset> = {};
  const used = new Map<string, number>(); // dataset key → sequences consumed by earlier components
  const phases: PlanPhase[] = [];
  let start = 0;
  const phaseNames = new Set<string>();

  spec.phases.forEach((ph, pi) => {
    const pf = `phases[${pi}]`;
    if (typeof ph?.name !== "string" || !ph.name) throw new ValidationError("must be a non-empty string", `${pf}.name`);
    if (phaseNames.has(ph.name)) throw new ValidationError(`duplicate phase name ${ph.name}`, `${pf}.name`);
    phaseNames.add(ph.name);
    if (!Array.isArray(ph.components) || ph.components.length === 0) throw new ValidationError("must list at least one component", `${pf}.components`);

    const names = new Set<string>();
    const comps = ph.components.map((c, ci) => {
      const cf = `${pf}.components[${ci}]`;
      if (typeof c?.name !== "string" || !c.name) throw new ValidationError("must be a non-empty string", `${cf}.name`);
      if (names.has(c.name)) throw new ValidationError(`duplicate component name ${c.name}`, `${cf}.name`);
      names.add(c.name);
      const forms = (["weight", "repeat", "tokens"] as const).filter((k) => c[k] !== undefined);
      if (forms.length !== 1) throw new ValidationError(`give exactly one of weight, repeat or tokens (got ${forms.join(", ") || "none"})`, cf);
      const form = forms[0]!;
      const value = finite(c[form], `${cf}.${form}`);
      const maxEpochs = finite(c.max_epochs ?? DEFAULT_MAX_EPOCHS, `${cf}.max_epochs`, { positive: true });
      if (typeof c.dataset !== "string" || !c.dataset) throw new ValidationError("must name a dataset version", `${cf}.dataset`);
      const ds = resolve(c.dataset, `${cf}.dataset`);
      if (ds.tokenizer !== spec.tokenizer) {
        throw new ValidationError(`dataset ${ds.name} (${ds.key}) is tokenized with ${ds.tokenizer}, the mixture uses ${spec.tokenizer}`, `${cf}.dataset`);
      }
      const spp = ds.tokens === null ? null : sequencesPerPass(ds.tokens, ds.rows, seqLen);
      if (spp === null) {
        if (form === "repeat") throw new ValidationError(`repeat needs the size of ${ds.name}, which is unknown`, `${cf}.repeat`);
      } else if (spp < 1) throw new ValidationError(`dataset ${ds.name} holds ${fmt(ds.tokens!)} tokens, less than one sequence of ${seqLen}`, `${cf}.dataset`);
      if (spp !== null && spp > 0xffffffff) throw new ValidationError(`dataset ${ds.name} has ${fmt(spp)} sequences per pass; at most 2^32 are supported (raise seq_len or split the dataset)`, `${cf}.dataset`);
      datasets[ds.key] ??= { name: ds.name, fingerprint: ds.fingerprint, tokenizer: ds.tokenizer, tokens: ds.tokens, rows: ds.rows, shards: ds.shards, sequences_per_pass: spp, declared: !!ds.declared };
      return { spec: c, cf, form, value, maxEpochs, ds, spp };
    });

    // Desired tokens: absolute forms are fixed; weights share what is left of the phase target.
    const fixed = comps.map((c) => (c.form === "tokens" ? c.value : c.form === "repeat" ? c.value * c.spp! * seqLen : 0));
    const fixedSum = fixed.reduce((a, b) => a + b, 0);
    const weighted = comps.filter((c) => c.form === "weight");
    const weightSum = weighted.reduce((a, c) => a + c.value, 0);
    let target: number;
    if (ph.tokens === undefined) {
      if (weighted.length) throw new ValidationError("required when a component uses weight", `${pf}.tokens`);
      target = fixedSum;
    } else target = finite(ph.tokens, `${pf}.tokens`, { positive: true });
    // Token counts are exact integers below 2^53; past that, sums and BigInt conversions lose meaning.
    if (target > Number.MAX_SAFE_INTEGER) throw new ValidationError(`must be at most ${fmt(Number.MAX_SAFE_INTEGER)}, got ${target}`, `${pf}.tokens`);
    if (!Number.isFinite(weightSum)) throw new ValidationError("weights must sum to a finite number", `${pf}.components`);
    if (weighted.length && !(weightSum > 0)) throw new ValidationError(`weights sum to ${weightSum}; at least one must be > 0`, `${pf}.components`);
    if (fixedSum > target * (1 + 1e-12)) {
      throw new ValidationError(`absolute components ask for ${fmt(Math.round(fixedSum))} tokens, more than the phase's ${fmt(target)}`, `${pf}.tokens`);
    }
    if (!weighted.length && ph.tokens !== undefined && fixedSum < target * (1 - 1e-9)) {
      throw new ValidationError(`components ask for ${fmt(Math.round(fixedSum))} tokens but the phase targets ${fmt(target)}; add a weighted component or lower tokens`, `${pf}.tokens`);
    }
    const rest = target - fixedSum;
    // Share first, then scale: rest * value can overflow to Infinity for a huge (finite) weight.
    const desired = comps.map((c, i) => (c.form === "weight" ? rest * (c.value / weightSum) : fixed[i]!));
    if (!(desired.reduce((a, b) => a + b, 0) > 0)) throw new ValidationError("the phase asks for zero tokens", `${pf}.components`);

    const wanted = Math.floor(target / seqLen);
    const block = Math.min(blockSize, wanted);
    if (block < 1) throw new ValidationError(`${fmt(target)} tokens is less than one sequence of ${seqLen}`, `${pf}.tokens`);
    const totalBlocks = Math.floor(wanted / block);
    const sequences = totalBlocks * block;

    // Schedule: segments of whole blocks, each apportioned by its own weights.
    const segDefs: { startBlock: number; weights: number[] }[] = [{ startBlock: 0, weights: desired }];
    (ph.schedule ?? []).forEach((s, si) => {
      const sf = `${pf}.schedule[${si}]`;
      if (comps.some((c) => c.form !== "weight")) throw new ValidationError("a schedule needs every component of the phase to use weight", sf);
      const at = finite(s?.start_tokens, `${sf}.start_tokens`, { integer: true, positive: true });
      const blockTokens = block * seqLen;
      if (at % blockTokens !== 0) {
        const lo = Math.floor(at / blockTokens) * blockTokens;
        throw new ValidationError(`${fmt(at)} is not a block boundary (blocks are ${fmt(blockTokens)} tokens; nearest ${fmt(lo)} or ${fmt(lo + blockTokens)})`, `${sf}.start_tokens`);
      }
      const startBlock = at / blockTokens;
      const prev = segDefs[segDefs.length - 1]!.startBlock;
      if (startBlock <= prev || startBlock >= totalBlocks) throw new ValidationError(`must increase and fall inside the phase (${fmt(sequences * seqLen)} tokens)`, `${sf}.start_tokens`);
      if (s.weights === null || typeof s.weights !== "object") throw new ValidationError("must map component names to weights", `${sf}.weights`);
      for (const k of Object.keys(s.weights)) if (!names.has(k)) throw new ValidationError(`unknown component ${k}`, `${sf}.weights.${k}`);
      const w = comps.map((c) => finite(s.weights[c.spec.name] ?? 0, `${sf}.weights.${c.spec.name}`));
      if (!(w.reduce((a, b) => a + b, 0) > 0)) throw new ValidationError("weights sum to zero", `${sf}.weights`);
      segDefs.push({ startBlock, weights: w });
    });

    const totals = comps.map(() => 0);
    const segments: PlanSegment[] = segDefs.map((sd, si) => {
      const end = segDefs[si + 1]?.startBlock ?? totalBlocks;
      const blocks = end - sd.startBlock;
      const counts = largestRemainder(blocks * block, sd.weights);
      const offsets = comps.map((c, i) => {
        const off = used.get(c.ds.key) ?? 0;
        used.set(c.ds.key, off + counts[i]!);
        totals[i]! += counts[i]!;
        return off;
      });
      return { start_block: sd.startBlock, blocks, counts, offsets, stride: goldenStride(blocks) };
    });

    const components: PlanComponent[] = comps.map((c, i) => {
      const seqs = totals[i]!;
      const epochs = c.spp === null ? null : seqs / c.spp;
      const cumulative = c.spp === null ? null : (used.get(c.ds.key) ?? 0) / c.spp;
      if (epochs !== null && cumulative !== null && cumulative > c.maxEpochs) {
        throw new ValidationError(
          `${c.spec.name}: ${fmt(seqs * seqLen)} tokens is ${epochs.toFixed(2)} passes over ${c.ds.name} (${fmt(c.spp! * seqLen)} tokens per packed pass)` +
            `${cumulative !== epochs ? `, ${cumulative.toFixed(2)} counting earlier phases` : ""}; max_epochs is ${c.maxEpochs}`,
          `${c.cf}.max_epochs`,
        );
      }
      return {
        name: c.spec.name,
        dataset: c.ds.key,
        form: c.form === "weight" ? { weight: c.value } : c.form === "repeat" ? { repeat: c.value } : { tokens: c.value },
        max_epochs: c.maxEpochs,
        sequences: seqs,
        tokens: seqs * seqLen,
        share: seqs / sequences,
        available_tokens: c.ds.tokens,
        epochs,
        cumulative_epochs: cumulative,
        full_passes: epochs === null ? null : Math.floor(epochs),
        partial_pass: epochs === null ? null : epochs - Math.floor(epochs),
      };
    });
    phases.push({ name: ph.name, target_tokens: target, tokens: sequences * seqLen, sequences, start_sequence: start, block_size: block, components, segments });
    start += sequences;
  });

  const body = { plan_version: PLAN_VERSION, seed, seq_len: seqLen, tokenizer: spec.tokenizer, sequences: start, tokens: start * seqLen, phases, datasets };
  return { ...body, fingerprint: sha256Hex(canonicalJson(body)).slice(0, 32) };
}

/** The budget table: one row per phase × component. */
export function budgetRows(plan: MixturePlan): BudgetRow[] {
  return plan.phases.flatMap((p) =>
    p.components.map((c) => ({ phase: p.name, source: c.name, tokens: c.tokens, share: c.share, available_tokens: c.available_tokens, epochs: c.epochs })),
  );
}
