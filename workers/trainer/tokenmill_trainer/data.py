"""Arrow-shard loader: reads the shards a mixture plan names and assembles training batches.

Sequences come from a `SequenceSource` (the mixture `Sampler`, or the `SequentialSource` stand-in):
global index → pieces (dataset, shard, row, token span, EOS after). The loader reads each piece's
tokens from the Arrow IPC file shards (contract 2), memory-mapped, with a per-shard LRU cache of
the `tokens` column's flat values and offsets (zero-copy). Shards on S3 are downloaded once into a
local cache and checked against the manifest's sha256.

Batches are a pure function of the data position (the next global sequence index): step k of a
run that starts at position p reads indices p + k·G … p + (k+1)·G - 1, G the global batch; rank r's
micro-batch m gets the slice [(m·world + r)·B, +B). A resumed run with the same position reads the
same batches, on any number of GPUs with the same global batch.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import torch

META_FINGERPRINT = b"tokenmill.dataset_fingerprint"
META_VOCAB_SHA = b"tokenmill.tokenizer_vocab_sha256"


class PieceLike(Protocol):
    dataset: str
    shard: str
    row: int
    start: int
    end: int
    eos_after: bool


class SequenceRefLike(Protocol):
    index: int
    source: str
    pieces: Sequence[PieceLike]


class SequenceSource(Protocol):
    """What the loader needs from the mixture sampler (tokenmill_trainer.sampler.Sampler)."""

    def num_sequences(self) -> int: ...

    def lookup(self, index: int) -> SequenceRefLike: ...


# -- shards -----------------------------------------------------------------------------------------


class ShardStore:
    """Local paths, num_tokens and row tokens of the shards of several dataset versions."""

    def __init__(self, locations: dict[str, str], manifests: dict[str, dict], cache_dir: str | Path | None = None,
                 verify_sha256: bool = True, max_open: int = 16):
        self.locations = locations
        self.manifests = manifests
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.verify_sha256 = verify_sha256
        self._entries = {k: {s["file"]: s for s in m["shards"]} for k, m in manifests.items()}
        self._open: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray, pa.Table]] = OrderedDict()
        self._verified: set[tuple[str, str]] = set()
        self._max_open = max_open
        self._lock = threading.Lock()

    def local_path(self, dataset: str, shard: str) -> Path:
        uri = self.locations[dataset]
        if uri.startswith("s3://"):
            path = self._fetch_s3(dataset, uri, shard)
        else:
            base = Path(urlparse(uri).path) if uri.startswith("file://") else Path(uri)
            path = base / shard
        key = (dataset, shard)
        if key not in self._verified:
            entry = self._entries[dataset].get(shard)
            if entry is None:
                raise ValueError(f"dataset {dataset}: shard {shard} is not in its manifest")
            if self.verify_sha256 and entry.get("sha256", "0" * 64) != "0" * 64:
                got = _sha256(path)
                if got != entry["sha256"]:
                    raise ValueError(f"dataset {dataset}: {path} has sha256 {got}, the manifest says {entry['sha256']}")
            self._verified.add(key)
        return path

    def _fetch_s3(self, dataset: str, uri: str, shard: str) -> Path:
        if self.cache_dir is None:
            raise ValueError(f"data.cache_dir: needed to read {uri}")
        fingerprint = self.manifests[dataset].get("fingerprint", "unknown")
        path = self.cache_dir / dataset / fingerprint / shard
        if path.exists():
            return path
        import boto3  # optional dependency: the `s3` extra, installed in the worker image

        u = urlparse(uri)
        prefix = u.path.lstrip("/")
        key = f"{prefix.rstrip('/')}/{shard}" if prefix else shard
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".part-{os.getpid()}")
        # AWS_ENDPOINT_URL (MinIO, R2) and credentials come from boto3's usual environment.
        boto3.client("s3").download_file(u.netloc, key, str(tmp))
        os.replace(tmp, path)
        return path

    def _table(self, dataset: str, shard: str) -> tuple[np.ndarray, np.ndarray, pa.Table]:
        key = (dataset, shard)
        with self._lock:
            hit = self._open.get(key)
            if hit is not None:
                self._open.move_to_end(key)
                return hit
        path = self.local_path(dataset, shard)
        table = ipc.open_file(pa.memory_map(str(path), "r")).read_all()
        self._check_schema(dataset, path, table.schema)
        col = table.column("tokens").combine_chunks()
        values = col.values.to_numpy(zero_copy_only=True)
        offsets = col.offsets.to_numpy(zero_copy_only=True).astype(np.int64, copy=False)
        entry = (values, offsets, table)
        with self._lock:
            self._open[key] = entry
            while len(self._open) > self._max_open:
                self._open.popitem(last=False)
        return entry

    def _check_schema(self, dataset: str, path: Path, schema: pa.Schema) -> None:
        meta = schema.metadata or {}
        m = self.manifests[dataset]
        fp = meta.get(META_FINGERPRINT, b"").decode()
        if fp and m.get("fingerprint") and fp != m["fingerprint"]:
            raise ValueError(f"{path}: dataset fingerprint {fp} differs from the manifest's {m['fingerprint']}")
        vocab = meta.get(META_VOCAB_SHA, b"").decode()
        want = m.get("tokenizer", {}).get("vocab_sha256")
        if vocab and want and vocab != want:
            raise ValueError(f"{path}: tokenizer vocabulary {vocab} differs from the manifest's {want}")
        if schema.field("tokens").type != pa.list_(pa.uint32()):
            raise ValueError(f"{path}: column tokens has type {schema.field('tokens').type}, expected list<uint32>")

    def doc_tokens(self, dataset: str, shard: str) -> np.ndarray:
        """num_tokens per row: the sampler's `doc_tokens` callback."""
        values, offsets, _ = self._table(dataset, shard)
        return np.diff(offsets)

    def row_tokens(self, dataset: str, shard: str, row: int) -> np.ndarray:
        values, offsets, _ = self._table(dataset, shard)
        return values[offsets[row]:offsets[row + 1]]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(uri: str) -> dict:
    """<uri>/manifest.json from a local folder or S3."""
    import json

    if uri.startswith("s3://"):
        import boto3

        u = urlparse(uri)
        key = f"{u.path.lstrip('/').rstrip('/')}/manifest.json".lstrip("/")
        return json.loads(boto3.client("s3").get_object(Bucket=u.netloc, Key=key)["Body"].read())
    base = Path(urlparse(uri).path) if uri.startswith("file://") else Path(uri)
    return json.loads((base / "manifest.json").read_text())


# -- a stand-in source: one dataset packed in order -------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    dataset: str
    shard: str
    row: int
    start: int
    end: int
    eos_after: bool


@dataclass(frozen=True)
class _Ref:
    index: int
    phase: str
    source: str
    pass_index: int
    pieces: tuple[_Piece, ...]


class SequentialSource:
    """Documents of one dataset joined with EOS, in shard and row order, cut into windows of
    seq_len + 1 tokens that overlap by one (as the sampler's windows do). For tests and for
    running without a plan."""

    def __init__(self, dataset: str, manifest: dict, doc_tokens, seq_len: int, source: str | None = None):
        self.dataset, self.seq_len, self.source = dataset, seq_len, source or dataset
        self.files = [s["file"] for s in manifest["shards"]]
        self._docs = [np.asarray(doc_tokens(dataset, f), dtype=np.int64) for f in self.files]
        sizes = np.array([int(d.sum()) + len(d) for d in self._docs], dtype=np.int64)
        self._shard_prefix = np.concatenate([[0], np.cumsum(sizes)])
        self._n = max(0, (int(sizes.sum()) - 1) // seq_len)

    def num_sequences(self) -> int:
        return self._n

    def lookup(self, index: int) -> _Ref:
        if not 0 <= index < self._n:
            raise IndexError(index)
        pos, need, pieces = index * self.seq_len, self.seq_len + 1, []
        si = int(np.searchsorted(self._shard_prefix, pos, side="right")) - 1
        within = pos - int(self._shard_prefix[si])
        while need > 0:
            docs = np.concatenate([[0], np.cumsum(self._docs[si] + 1)])
            row = int(np.searchsorted(docs, within, side="right")) - 1
            start = within - int(docs[row])
            while need > 0 and row < len(docs) - 1:
                length = int(docs[row + 1] - docs[row])  # tokens + EOS
                end = min(length, start + need)
                pieces.append(_Piece(self.dataset, self.files[si], row, min(start, length - 1),
                                     min(end, length - 1), end == length))
                need -= end - start
                row, start = row + 1, 0
            si, within = si + 1, 0
        return _Ref(index, "p0", self.source, 0, tuple(pieces))


# -- batches ----------------------------------------------------------------------------------------


@dataclass
class Batch:
    """One micro-batch of one rank: inputs/targets [B, seq_len] int64."""

    inputs: torch.Tensor
    targets: torch.Tensor


@dataclass
class StepBatch:
    step: int
    first_index: int
    micro: list[Batch]
    #: Tokens of the whole global batch per source (seq_len per sequence, as the plan budgets them).
    tokens_by_source: dict[str, int]


class BatchLoader:
    """Global-batch-at-a-time reader with a background prefetch thread."""

    def __init__(self, source: SequenceSource, store: ShardStore, *, seq_len: int, eos_id: int,
                 micro_batch_size: int, grad_accum: int, rank: int = 0, world_size: int = 1, prefetch: int = 2):
        self.source, self.store = source, store
        self.seq_len, self.eos_id = seq_len, eos_id
        self.B, self.accum, self.rank, self.world = micro_batch_size, grad_accum, rank, world_size
        self.global_batch = micro_batch_size * grad_accum * world_size
        self.prefetch = prefetch

    def steps_available(self, position: int) -> int:
        return (self.source.num_sequences() - position) // self.global_batch

    def sequence(self, index: int) -> tuple[np.ndarray, str]:
        ref = self.source.lookup(index)
        parts = []
        for p in ref.pieces:
            parts.append(self.store.row_tokens(p.dataset, p.shard, p.row)[p.start:p.end])
            if p.eos_after:
                parts.append(np.array([self.eos_id], dtype=np.uint32))
        seq = np.concatenate(parts).astype(np.int64)
        assert len(seq) == self.seq_len + 1, f"sequence {index} has {len(seq)} tokens, expected {self.seq_len + 1}"
        return seq, ref.source

    def step_batch(self, step: int, first_index: int) -> StepBatch:
        """The micro-batches of this rank for the global batch starting at first_index."""
        micro = []
        for m in range(self.accum):
            start = first_index + (m * self.world + self.rank) * self.B
            seqs = np.stack([self.sequence(i)[0] for i in range(start, start + self.B)])
            t = torch.from_numpy(seqs)
            micro.append(Batch(t[:, :-1].contiguous(), t[:, 1:].contiguous()))
        counts: dict[str, int] = {}
        # Sources of the whole global batch: every rank computes the same totals without talking.
        for i in range(first_index, first_index + self.global_batch):
            src = self.source.lookup(i).source
            counts[src] = counts.get(src, 0) + self.seq_len
        return StepBatch(step, first_index, micro, counts)

    def iterate(self, start_step: int, position: int, end_step: int):
        """Yields StepBatch for steps [start_step, end_step), prefetching on a thread."""
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def work() -> None:
            try:
                for k, step in enumerate(range(start_step, end_step)):
                    if stop.is_set():
                        return
                    q.put(self.step_batch(step, position + k * self.global_batch))
                q.put(None)
            except BaseException as e:  # surfaced in the consumer
                q.put(e)

        t = threading.Thread(target=work, daemon=True, name="batch-prefetch")
        t.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while t.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    t.join(0.05)
