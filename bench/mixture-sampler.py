"""Python sampler throughput (numpy, vectorized) and start-up.

    .venv/bin/python bench/mixture-sampler.py

Builds the same 3-source plan as bench/mixture-sampler.ts with the TypeScript planner (via
`npx tsx`), then times sources_of / windows_of over 1M consecutive indices, per-call lookup(),
and construction + first lookup for 1k..1M shards. Every figure is the median of 3 runs.
"""

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workers" / "trainer"))
from tokenmill_trainer.sampler import Sampler  # noqa: E402

PLAN_JS = r"""
import { planMixture, datasetInfoFromManifest } from "@tokenmill/domain";
const [shards, rowsPer, tokens] = process.argv.slice(2).map(Number);
let s = 1;
function ds(name, n) {
  const list = [];
  for (let i = 0; i < n; i++) { let t = 0; for (let r = 0; r < rowsPer; r++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; t += 50 + (s % 2000); } list.push({ file: `shard-${i}.arrow`, rows: rowsPer, tokens: t, bytes: 0, sha256: "" }); }
  return { dataset: name, fingerprint: name, tokenizer: { id: "llama3" }, shards: list };
}
const m = { web: ds("web", shards), math: ds("math", Math.max(1, shards >> 3)), code: ds("code", Math.max(1, shards >> 2)) };
const spec = { seed: 1, seq_len: 2048, tokenizer: "llama3", phases: [{ name: "p", tokens, components: [
  { name: "web", dataset: "web", weight: 6 }, { name: "math", dataset: "math", weight: 3 }, { name: "code", dataset: "code", weight: 1 }] }] };
const plan = planMixture(spec, (k) => datasetInfoFromManifest(k, m[k]));
process.stdout.write(JSON.stringify({ plan, manifests: m }));
"""


def make(shards: int, rows_per: int, tokens: int):
    script = ROOT / ".bench-plan.mts"
    script.write_text(PLAN_JS)
    try:
        out = subprocess.run(
            ["node", "--import", "tsx", str(script), str(shards), str(rows_per), str(tokens)],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    finally:
        script.unlink()
    data = json.loads(out)
    cache: dict = {}

    def doc_tokens(key: str, shard: str) -> np.ndarray:
        # Synthetic per-row counts that sum to the manifest's shard tokens (the loader reads num_tokens).
        hit = cache.get((key, shard))
        if hit is None:
            idx = int(shard.split("-")[1].split(".")[0])
            entry = data["manifests"][key]["shards"][idx]
            rows = np.full(entry["rows"], entry["tokens"] // entry["rows"], dtype=np.int64)
            rows[-1] += entry["tokens"] - rows.sum()
            cache[(key, shard)] = hit = rows
        return hit

    return data["plan"], data["manifests"], doc_tokens


def main() -> None:
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    plan, manifests, doc_tokens = make(2000, 500, 2048 * 65536 * 32)
    s = Sampler(plan, manifests, doc_tokens, cache_size=8192)
    n = 1_000_000
    idx = np.arange(123_457, 123_457 + n)
    s.sources_of(idx[:10_000])
    for name, fn in (("sources_of", s.sources_of), ("windows_of", s.windows_of)):
        runs = [_timed(fn, idx) for _ in range(3)]
        wall = sorted(r[0] for r in runs)[1]
        cpu = sorted(r[1] for r in runs)[1]
        print(f"{name}: {n:,} consecutive sequences, median {n / wall / 1e6:.2f} M sequences/s wall, "
              f"{n / cpu / 1e6:.2f} M per CPU-second (vectorized; runs {' / '.join(f'{n / r[0] / 1e6:.2f}' for r in runs)})")
    k = 20_000
    for i in range(2000):
        s.lookup(123_457 + i)
    rates = []
    for r in range(3):
        t0 = time.perf_counter()
        for i in range(k):
            s.lookup(200_000 + r * k + i)
        rates.append(k / (time.perf_counter() - t0) / 1e3)
    print(f"lookup (one call per sequence, with pieces): {sorted(rates)[1]:.1f} K sequences/s")
    for shards in (1_000, 10_000, 100_000, 1_000_000):
        plan, manifests, doc_tokens = make(shards, 4, 2048 * 1024)
        construct, first = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            s = Sampler(plan, manifests, doc_tokens)
            t1 = time.perf_counter()
            s.lookup(plan["sequences"] // 2)
            t2 = time.perf_counter()
            construct.append(1e3 * (t1 - t0))
            first.append(1e3 * (t2 - t1))
        print(f"start-up with {shards:,} web shards: construct {sorted(construct)[1]:.2f} ms, "
              f"first sequence {sorted(first)[1]:.1f} ms")


def _timed(fn, idx) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the second is the better
    per-core estimate."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn(idx)
    return time.perf_counter() - t0, time.process_time() - c0


if __name__ == "__main__":
    main()
