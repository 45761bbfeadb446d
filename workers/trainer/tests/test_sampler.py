"""The Python sampler reproduces the TypeScript sampler's contract vectors (test/contracts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tokenmill_trainer.sampler import Piece, Sampler, hash32, mix_key, permute, permute_np

VECTORS = Path(__file__).resolve().parents[3] / "test" / "contracts" / "sampler-vectors.json"
DATA = json.loads(VECTORS.read_text())
CASES = {c["name"]: c for c in DATA["cases"]}


def make(case: dict) -> Sampler:
    ds = DATA["datasets"]
    manifests = {k: v["manifest"] for k, v in ds.items()}
    return Sampler(case["plan"], manifests, lambda key, shard: np.asarray(ds[key]["docs"][shard], dtype=np.uint32))


def as_json(ref) -> dict:
    return {
        "index": ref.index,
        "phase": ref.phase,
        "source": ref.source,
        "pass_index": ref.pass_index,
        "pieces": [[p.dataset, p.shard, p.row, p.start, p.end, p.eos_after] for p in ref.pieces],
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_lookup_matches_typescript(name: str) -> None:
    case = CASES[name]
    sampler = make(case)
    assert sampler.num_sequences() == case["plan"]["sequences"]
    for expected in case["expected"]:
        assert as_json(sampler.lookup(expected["index"])) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_sources_of_matches_typescript(name: str) -> None:
    case = CASES[name]
    sampler = make(case)
    got = sampler.sources_of(np.arange(sampler.num_sequences()))
    assert got.tolist() == case["sources"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_sequences_are_seq_len_plus_one_tokens(name: str) -> None:
    case = CASES[name]
    sampler = make(case)
    seq_len = case["plan"]["seq_len"]
    for i in range(sampler.num_sequences()):
        ref = sampler.lookup(i)
        assert all(isinstance(p, Piece) for p in ref.pieces)
        assert sum(p.end - p.start + p.eos_after for p in ref.pieces) == seq_len + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_windows_of_matches_the_scalar_path(name: str) -> None:
    """The vectorized (component, pass, window) equals the per-index computation, in any order."""
    case = CASES[name]
    sampler = make(case)
    idx = np.random.default_rng(3).permutation(sampler.num_sequences())
    comp, passes, windows = sampler.windows_of(idx)
    for i, c, ps, w in zip(idx.tolist(), comp.tolist(), passes.tolist(), windows.tolist()):
        pi, c1, stream = sampler._locate_one(i)
        key = case["plan"]["phases"][pi]["components"][c1]["dataset"]
        q = case["plan"]["datasets"][key]["sequences_per_pass"]
        assert (c, ps, w) == (c1, stream // q, permute(stream % q, q, mix_key(case["plan"]["seed"], 1, hash32(key), stream // q)))


def test_budgets_are_exact_per_block_and_segment() -> None:
    case = CASES["schedule-change"]
    sampler = make(case)
    phase = case["plan"]["phases"][0]
    src = sampler.sources_of(np.arange(sampler.num_sequences()))
    bsize = phase["block_size"]
    for seg in phase["segments"]:
        lo, hi = seg["start_block"] * bsize, (seg["start_block"] + seg["blocks"]) * bsize
        counts = np.bincount(src[lo:hi], minlength=len(seg["counts"]))
        assert counts.tolist() == seg["counts"]


def test_permutation_is_a_bijection_and_vectorized_agrees() -> None:
    for n in (1, 2, 3, 17, 1000, 4097):
        out = [permute(x, n, 99) for x in range(n)]
        assert sorted(out) == list(range(n))
        assert permute_np(np.arange(n), n, 99).tolist() == out


def test_checks_manifests_against_the_plan() -> None:
    """Shard counts and totals at construction; shard sizes when the dataset is first read (so
    start-up reads nothing per shard)."""
    case = CASES["weights-repeats-partial"]
    ds = DATA["datasets"]

    def copy() -> dict:
        return {k: json.loads(json.dumps(v["manifest"])) for k, v in ds.items()}

    def docs(k: str, s: str) -> np.ndarray:
        return np.asarray(ds[k]["docs"][s])

    fewer = copy()
    fewer["small"]["shards"].pop()
    with pytest.raises(ValueError, match="lists 2 shards, the plan says 3"):
        Sampler(case["plan"], fewer, docs)
    totals = copy()
    totals["small"]["totals"]["tokens"] += 1
    with pytest.raises(ValueError, match="sequences per pass"):
        Sampler(case["plan"], totals, docs)
    sizes = copy()
    del sizes["small"]["totals"]
    sizes["small"]["shards"][0]["tokens"] += 1000
    sampler = Sampler(case["plan"], sizes, docs)
    src = case["sources"]
    with pytest.raises(ValueError, match=r"holds \d+ tokens in \d+ rows, the plan says"):
        sampler.lookup(src.index(1))
    assert sampler.lookup(src.index(0)).source == "big"


def test_permute_np_walks_cycles_with_per_element_keys() -> None:
    keys = np.arange(300, dtype=np.uint32) * np.uint32(2654435761)
    for n in (5, 1000, 4097):
        xs = np.arange(300) % n
        assert permute_np(xs, n, keys).tolist() == [permute(int(x), n, int(k)) for x, k in zip(xs, keys)]
