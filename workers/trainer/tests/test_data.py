"""The Arrow-shard loader on shards made by the real curator, following a real mixture plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from tokenmill_trainer.data import BatchLoader, SequentialSource, ShardStore
from tokenmill_trainer.sampler import Sampler

EOS = 128001


def store_for(datasets, **kw) -> ShardStore:
    return ShardStore({k: v["uri"] for k, v in datasets.items()}, {k: v["manifest"] for k, v in datasets.items()}, **kw)


def test_reads_curator_shards_like_pyarrow(datasets):
    store = store_for(datasets)
    m = datasets["web"]["manifest"]
    for entry in m["shards"]:
        table = ipc.open_file(pa.memory_map(str(Path(datasets["web"]["uri"]) / entry["file"]))).read_all()
        assert store.doc_tokens("web", entry["file"]).tolist() == table.column("num_tokens").to_pylist()
        for row in (0, table.num_rows - 1):
            assert store.row_tokens("web", entry["file"], row).tolist() == table.column("tokens")[row].as_py()


def test_rejects_a_shard_whose_sha256_differs(datasets, tmp_path):
    manifests = {"web": json.loads(json.dumps(datasets["web"]["manifest"]))}
    manifests["web"]["shards"][0]["sha256"] = "f" * 64
    store = ShardStore({"web": datasets["web"]["uri"]}, manifests)
    with pytest.raises(ValueError, match="sha256"):
        store.row_tokens("web", manifests["web"]["shards"][0]["file"], 0)


def test_sequences_follow_the_plan_and_count_tokens_per_source_exactly(datasets, plan):
    store = store_for(datasets)
    sampler = Sampler(plan, {k: v["manifest"] for k, v in datasets.items()}, store.doc_tokens)
    seq_len = plan["seq_len"]
    loader = BatchLoader(sampler, store, seq_len=seq_len, eos_id=EOS, micro_batch_size=2, grad_accum=3)
    steps = loader.steps_available(0)
    assert steps == plan["sequences"] // 6
    consumed: dict[str, int] = {}
    for sb in loader.iterate(0, 0, steps):
        for s, n in sb.tokens_by_source.items():
            consumed[s] = consumed.get(s, 0) + n
        for m, b in enumerate(sb.micro):
            assert b.inputs.shape == b.targets.shape == (2, seq_len)
            assert (b.inputs[:, 1:] == b.targets[:, :-1]).all()
            # every sequence is the plan's pieces, joined with EOS where a document ends
            for j in range(2):
                ref = sampler.lookup(sb.first_index + m * 2 + j)
                want = []
                for p in ref.pieces:
                    want += store.row_tokens(p.dataset, p.shard, p.row)[p.start:p.end].tolist() + [EOS] * p.eos_after
                assert b.inputs[j].tolist() + [b.targets[j, -1].item()] == want
    # the whole plan consumed: per-source tokens equal the plan's budgets exactly
    budgets = {c["name"]: c["tokens"] for c in plan["phases"][0]["components"]}
    assert consumed == budgets
    assert consumed["math"] > 0 and consumed["web"] > consumed["math"]


def test_ranks_partition_the_global_batch(datasets, plan):
    store = store_for(datasets)
    sampler = Sampler(plan, {k: v["manifest"] for k, v in datasets.items()}, store.doc_tokens)
    one = BatchLoader(sampler, store, seq_len=32, eos_id=EOS, micro_batch_size=4, grad_accum=2)
    seen = []
    for rank in range(2):
        two = BatchLoader(sampler, store, seq_len=32, eos_id=EOS, micro_batch_size=2, grad_accum=2, rank=rank, world_size=2)
        sb = two.step_batch(1, 8)
        seen += [row.tolist() for b in sb.micro for row in b.inputs]
        assert sb.tokens_by_source == one.step_batch(1, 8).tokens_by_source
    whole = [row.tolist() for b in one.step_batch(1, 8).micro for row in b.inputs]
    assert sorted(seen) == sorted(whole)


def test_sequential_stand_in_packs_documents_with_eos(datasets):
    store = store_for(datasets)
    m = datasets["math"]["manifest"]
    src = SequentialSource("math", m, store.doc_tokens, seq_len=16)
    stream = []
    for entry in m["shards"]:
        for row in range(entry["rows"]):
            stream += store.row_tokens("math", entry["file"], row).tolist() + [EOS]
    loader = BatchLoader(src, store, seq_len=16, eos_id=EOS, micro_batch_size=1, grad_accum=1)
    assert src.num_sequences() == (len(stream) - 1) // 16
    for i in range(src.num_sequences()):
        seq, source = loader.sequence(i)
        assert source == "math" and seq.tolist() == stream[i * 16:i * 16 + 17]
    assert np.issubdtype(seq.dtype, np.integer)
