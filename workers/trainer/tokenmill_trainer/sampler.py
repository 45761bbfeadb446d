"""The stateless mixture sampler: global sequence index -> (source, shard, row, token span).

A line-for-line twin of packages/domain/src/mixture/sampler.ts; test/contracts/README.md states the
rules and test/contracts/sampler-*.json pins identical outputs in both languages. Pure Python and
numpy (no torch): every permutation is uint32 arithmetic. The sampler's own state is O(shards);
per-row token counts of a shard come from the caller's ``doc_tokens`` (read lazily, cached there).
Start-up is O(datasets + phases x components): a dataset's shard list is summed (and checked
against the plan) when the dataset is first read, and a pass's shard order when the pass is.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

M32 = 0xFFFFFFFF
TAG_WINDOW, TAG_SHARD, TAG_BLOCK = 1, 2, 4
_ROUND_CONSTS = (0x9E3779B9, 0x3C6EF372, 0xDAA66D2B, 0x78DDE6E4)


def fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


_U16, _U13 = np.uint32(16), np.uint32(13)
_C1, _C2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)


def _fmix32_np(h: np.ndarray) -> np.ndarray:
    """fmix32 over a uint32 array: numpy's uint32 products wrap mod 2^32, so no masking (and half
    the memory traffic of uint64)."""
    h = h ^ (h >> _U16)
    h *= _C1
    h ^= h >> _U13
    h *= _C2
    h ^= h >> _U16
    return h


def mix_key(*parts: int) -> int:
    h = 0x6A09E667
    for p in parts:
        h = fmix32((((h ^ p) * 0x9E3779B1) + 0x7F4A7C15) & M32)
    return h


def hash32(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _shape(n: int) -> tuple[int, int]:
    bits = max(2, (n - 1).bit_length())
    bits += bits & 1
    half = bits // 2
    return half, (1 << half) - 1


def permute(x: int, n: int, key: int) -> int:
    """Keyed bijection of [0, n): 4-round Feistel on an even bit width, with cycle walking."""
    if n <= 1:
        return 0
    half, mask = _shape(n)
    ks = _round_keys(key)
    while True:
        left, right = x >> half, x & mask
        for k in ks:
            left, right = right, left ^ (fmix32(right ^ k) & mask)
        x = (left << half) | right
        if x < n:
            return x


@lru_cache(maxsize=4096)
def _round_keys(key: int) -> tuple[int, int, int, int]:
    return tuple(fmix32(key ^ c) for c in _ROUND_CONSTS)


def permute_np(x: np.ndarray, n: int, keys: np.ndarray | int) -> np.ndarray:
    """Vectorized ``permute`` (keys may differ per element); returns uint32."""
    if np.ndim(keys) == 0:
        rks = [np.uint32(k) for k in _round_keys(int(keys))]
    else:
        rks = _round_keys_np(np.broadcast_to(np.asarray(keys, dtype=np.uint32), np.shape(x)))
    return _permute_rk(np.asarray(x), n, rks)


def _round_keys_np(keys: np.ndarray) -> list:
    """The four Feistel round keys of every key (uint32 arrays)."""
    keys = np.asarray(keys, dtype=np.uint32)
    return [_fmix32_np(keys ^ np.uint32(c)) for c in _ROUND_CONSTS]


def _permute_rk(x: np.ndarray, n: int, rks: list) -> np.ndarray:
    """``permute`` given round keys: four uint32 scalars, or four arrays shaped like x (callers
    gather them from a table per block or pass instead of hashing every element)."""
    if n <= 1:
        return np.zeros(x.shape, dtype=np.uint32)
    if n > 1 << 32:
        raise ValueError(f"permute_np: n = {n} exceeds 2^32")
    half, mask = _shape(n)
    scalar_key = np.ndim(rks[0]) == 0
    ks = rks if scalar_key else [np.ravel(k) for k in rks]
    m, h = np.uint32(mask), np.uint32(half)
    out = x.astype(np.uint32).ravel()
    idx = None  # positions still walking (None: all)
    v = out
    while True:
        left, right = v >> h, v & m
        for k in ks:
            kk = k if scalar_key or idx is None else k[idx]
            left, right = right, left ^ (_fmix32_np(right ^ kk) & m)
        v = (left << h) | right
        # Cycle walking: values >= n go round again (expected < 4 rounds; rare past the first).
        bad = np.nonzero(v >= n)[0]
        if idx is None:
            out = v
            idx = bad
        else:
            out[idx] = v
            idx = idx[bad]
        if not idx.size:
            return out.reshape(x.shape)
        v = out[idx]


def _table(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, position of each element in them): a range when the values are
    dense (consecutive indices share blocks and passes), else np.unique."""
    lo, hi = int(values.min()), int(values.max())
    if hi - lo + 1 <= values.size:
        return np.arange(lo, hi + 1, dtype=np.int64), values - lo
    return np.unique(values, return_inverse=True)


@dataclass(frozen=True)
class Piece:
    dataset: str
    shard: str
    row: int
    start: int
    end: int
    eos_after: bool


@dataclass(frozen=True)
class SequenceRef:
    index: int
    phase: str
    source: str
    pass_index: int
    pieces: tuple[Piece, ...]


class Sampler:
    """Random access into a mixture plan (contract 4). Sequences carry seq_len + 1 tokens."""

    def __init__(
        self,
        plan: dict,
        manifests: dict[str, dict],
        doc_tokens: Callable[[str, str], np.ndarray],
        cache_size: int = 64,
    ) -> None:
        if plan.get("plan_version") != 1:
            raise ValueError(f"unsupported plan_version {plan.get('plan_version')!r}")
        self.plan = plan
        self.seq_len = int(plan["seq_len"])
        self.seed = int(plan["seed"])
        self._doc_tokens = doc_tokens
        self._cache_size = cache_size
        self._datasets: dict[str, dict] = {}
        for key, d in plan["datasets"].items():
            if key not in manifests:
                raise ValueError(f"no manifest for dataset {d['name']} ({key})")
            if d.get("sequences_per_pass") is None or d.get("tokens") is None:
                raise ValueError(f"dataset {d['name']} has declared sizes only; plan it over its manifest")
            shards = manifests[key]["shards"]
            if len(shards) != d["shards"]:
                raise ValueError(f"manifest of {d['name']} lists {len(shards)} shards, the plan says {d['shards']}")
            totals = manifests[key].get("totals")
            if totals is not None:
                _check_totals(d, int(totals["tokens"]), int(totals["rows"]))
            # The shard list is summed on first use (_packed): start-up reads nothing per shard.
            self._datasets[key] = {
                "hash": hash32(key),
                "files": _Files(shards),
                "packed": None,
                "per_pass": int(d["sequences_per_pass"]),
                "plan": d,
            }
        self._phase_starts = np.array([p["start_sequence"] for p in plan["phases"]], dtype=np.int64)
        self._pass_cache: OrderedDict = OrderedDict()
        self._doc_cache: OrderedDict = OrderedDict()
        # Per segment: k (base per block), R (extras), o (extra-grid start) as int64 arrays.
        self._segs = []
        for p in plan["phases"]:
            rows = []
            for s in p["segments"]:
                counts = np.array(s["counts"], dtype=np.int64)
                nb = s["blocks"]
                k = counts // nb
                r = counts - k * nb
                o = np.concatenate([[0], np.cumsum(r)[:-1]]).astype(np.int64)
                rows.append((k, r, o))
            self._segs.append(rows)
        self._ds_index = {}
        self._last_block: tuple = (None, None, None, None)

    def num_sequences(self) -> int:
        return int(self.plan["sequences"])

    # -- locating: index -> (phase, component, stream position); vectorized ----------------
    def _locate_np(self, indices: np.ndarray):
        """Vectorized locate. Everything that depends on the block only (its permutation's round
        keys, its composition) is computed once per distinct block and gathered, so the per-element
        work is a Feistel permutation and a few gathers."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_sequences()):
            raise IndexError(f"sequence index outside [0, {self.num_sequences()})")
        phases = self.plan["phases"]
        comp_out = np.zeros(idx.shape, dtype=np.int64)
        stream_out = np.zeros(idx.shape, dtype=np.int64)
        if not idx.size:
            return np.zeros(idx.shape, dtype=np.int64), comp_out, stream_out
        pi_all = np.searchsorted(self._phase_starts, idx, side="right") - 1
        one_phase = len(phases) == 1
        for pi in (0,) if one_phase else np.unique(pi_all):
            phase = phases[pi]
            sel = slice(None) if one_phase else np.nonzero(pi_all == pi)[0]
            local = idx[sel] - phase["start_sequence"]
            bsize = phase["block_size"]
            block = local // bsize
            q = local - block * bsize
            ub, j = _table(block)
            rk = _round_keys_np(_fmix_keys(self.seed, TAG_BLOCK, int(pi), ub))
            p = _permute_rk(q, bsize, [r[j] for r in rk]).astype(np.int64)
            segs = phase["segments"]
            seg_starts = np.array([sg["start_block"] for sg in segs], dtype=np.int64)
            si_blk = np.searchsorted(seg_starts, ub, side="right") - 1
            for si in np.unique(si_blk):
                seg = segs[si]
                k, r_extra, o = self._segs[pi][si]
                nb = seg["blocks"]
                # Blocks of this segment are a contiguous run [lo, hi) of the sorted table.
                lo, hi = np.searchsorted(si_blk, [si, si + 1])
                b_u = ub[lo:hi] - seg["start_block"]
                row_u = (b_u.astype(np.uint64) * np.uint64(seg["stride"]) % np.uint64(nb)).astype(np.int64)
                rel_u = (row_u[:, None] - o[None, :]) % nb  # (blocks, C)
                cnt_u = k[None, :] + (rel_u < r_extra[None, :])
                cum_u = np.cumsum(cnt_u, axis=1)
                esel = slice(None) if len(segs) == 1 else np.nonzero((j >= lo) & (j < hi))[0]
                jj = j[esel] - lo
                pp = p[esel]
                c = (cum_u[jj] <= pp[:, None]).sum(axis=1)
                C = len(k)
                flat = jj * C + c
                rank = pp - (cum_u.ravel()[flat] - cnt_u.ravel()[flat])
                kc = k[c]
                within = np.where(rank < kc, b_u[jj] * kc + rank, kc * nb + rel_u.ravel()[flat])
                offsets = np.array(seg["offsets"], dtype=np.int64)
                out_sel = sel if isinstance(esel, slice) else esel if isinstance(sel, slice) else sel[esel]
                comp_out[out_sel] = c
                stream_out[out_sel] = offsets[c] + within
        return pi_all, comp_out, stream_out

    def sources_of(self, indices: np.ndarray) -> np.ndarray:
        """Component index (within its phase) of every global index."""
        return self._locate_np(indices)[1]

    def windows_of(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(component, pass, window) per index, vectorized: everything up to shard access."""
        pi_all, comp, stream = self._locate_np(indices)
        passes = np.zeros_like(stream)
        windows = np.zeros_like(stream)
        ds_keys = self._component_dataset_keys()
        for (pi, c), key in ds_keys.items():
            sel = np.nonzero((pi_all == pi) & (comp == c))[0]
            if not sel.size:
                continue
            ds = self._datasets[key]
            q = ds["per_pass"]
            st = stream[sel]
            pss = st // q
            up, j = _table(pss)
            rk = _round_keys_np(_fmix_keys(self.seed, TAG_WINDOW, ds["hash"], up))
            passes[sel] = pss
            windows[sel] = _permute_rk(st - pss * q, q, [r[j] for r in rk]).astype(np.int64)
        return comp, passes, windows

    def _component_dataset_keys(self) -> dict:
        if not self._ds_index:
            for pi, p in enumerate(self.plan["phases"]):
                for c, comp in enumerate(p["components"]):
                    self._ds_index[(pi, c)] = comp["dataset"]
        return self._ds_index

    # -- one sequence with its pieces ---------------------------------------------------------
    def _locate_one(self, index: int) -> tuple[int, int, int]:
        """Scalar twin of ``_locate_np`` (pure Python ints: no numpy overhead per call)."""
        if not 0 <= index < self.num_sequences():
            raise IndexError(f"sequence index {index} outside [0, {self.num_sequences()})")
        phases = self.plan["phases"]
        pi = len(phases) - 1
        while phases[pi]["start_sequence"] > index:
            pi -= 1
        phase = phases[pi]
        local = index - phase["start_sequence"]
        bsize = phase["block_size"]
        block, q = divmod(local, bsize)
        segs = phase["segments"]
        si = len(segs) - 1
        while segs[si]["start_block"] > block:
            si -= 1
        seg = segs[si]
        b = block - seg["start_block"]
        ck = (pi, si, b)
        if self._last_block[0] != ck:
            k, r_extra, o = self._segs[pi][si]
            nb = seg["blocks"]
            row = b * seg["stride"] % nb
            cum = [0]
            for c in range(len(k)):
                cum.append(cum[-1] + int(k[c]) + (1 if (row - int(o[c])) % nb < int(r_extra[c]) else 0))
            self._last_block = (ck, cum, row, mix_key(self.seed, TAG_BLOCK, pi, block))
        _, cum, row, key = self._last_block
        p = permute(q, bsize, key)
        c = 0
        while p >= cum[c + 1]:
            c += 1
        rank = p - cum[c]
        k, _, o = self._segs[pi][si]
        kc, nb = int(k[c]), seg["blocks"]
        within = b * kc + rank if rank < kc else kc * nb + (row - int(o[c])) % nb
        return pi, c, seg["offsets"][c] + within

    def lookup(self, index: int) -> SequenceRef:
        pi, c, stream = self._locate_one(int(index))
        phase = self.plan["phases"][pi]
        component = phase["components"][c]
        key = component["dataset"]
        ds = self._datasets[key]
        q = ds["per_pass"]
        pss = stream // q
        w = permute(stream - pss * q, q, mix_key(self.seed, TAG_WINDOW, ds["hash"], pss))
        order, prefix = self._pass_layout(key, pss)
        offset = w * self.seq_len
        need = self.seq_len + 1
        pos = int(np.searchsorted(prefix, offset, side="right")) - 1
        within = offset - int(prefix[pos])
        pieces = []
        while need > 0:
            shard_index = int(order[pos])
            docs = self._doc_prefix(key, shard_index)
            row = int(np.searchsorted(docs, within, side="right")) - 1
            start = within - int(docs[row])
            while need > 0 and row < len(docs) - 1:
                length = int(docs[row + 1] - docs[row])
                end = min(length, start + need)
                pieces.append(
                    Piece(key, ds["files"][shard_index], row, min(start, length - 1), min(end, length - 1), end == length)
                )
                need -= end - start
                row += 1
                start = 0
            pos += 1
            within = 0
        return SequenceRef(index, phase["name"], component["name"], pss, tuple(pieces))

    def _pass_layout(self, key: str, pss: int):
        ck = (key, pss)
        hit = self._pass_cache.get(ck)
        if hit is not None:
            return hit
        ds = self._datasets[key]
        n = len(ds["files"])
        order = permute_np(np.arange(n), n, mix_key(self.seed, TAG_SHARD, ds["hash"], pss)).astype(np.int64)
        sizes = self._packed(key)[order]
        prefix = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        # A few passes per dataset: a block straddling a pass boundary alternates between two.
        _remember(self._pass_cache, ck, (order, prefix), 4 * len(self._datasets))
        return order, prefix

    def _packed(self, key: str) -> np.ndarray:
        """tokens + rows per shard by manifest position, checked against the plan: the one full
        read of a shard list, on the dataset's first sequence."""
        ds = self._datasets[key]
        if ds["packed"] is None:
            shards = ds["files"].shards
            tokens = np.fromiter((s["tokens"] for s in shards), dtype=np.int64, count=len(shards))
            rows = np.fromiter((s["rows"] for s in shards), dtype=np.int64, count=len(shards))
            _check_totals(ds["plan"], int(tokens.sum()), int(rows.sum()))
            ds["packed"] = tokens + rows
        return ds["packed"]

    def _doc_prefix(self, key: str, shard_index: int) -> np.ndarray:
        ck = (key, shard_index)
        hit = self._doc_cache.get(ck)
        if hit is not None:
            return hit
        ds = self._datasets[key]
        packed = self._packed(key)
        counts = np.asarray(self._doc_tokens(key, ds["files"][shard_index]), dtype=np.int64)
        prefix = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts + 1, out=prefix[1:])
        if prefix[-1] != packed[shard_index]:
            raise ValueError(
                f"shard {ds['files'][shard_index]} of {key}: num_tokens sum to {int(counts.sum())}, "
                f"the manifest says {int(packed[shard_index]) - len(counts)}"
            )
        _remember(self._doc_cache, ck, prefix, self._cache_size)
        return prefix


def _check_totals(d: dict, tokens: int, rows: int) -> None:
    if tokens != d["tokens"] or rows != d["rows"]:
        raise ValueError(
            f"manifest of {d['name']} holds {tokens} tokens in {rows} rows, the plan says {d['tokens']} "
            f"in {d['rows']} ({d['sequences_per_pass']} sequences per pass)"
        )


class _Files:
    """Shard file names by manifest position, read from the manifest on demand (no copy at start-up)."""

    __slots__ = ("shards",)

    def __init__(self, shards: list) -> None:
        self.shards = shards

    def __getitem__(self, i: int) -> str:
        return self.shards[i]["file"]

    def __len__(self) -> int:
        return len(self.shards)


def _fmix_keys(*parts) -> np.ndarray:
    """``mix_key`` where the last part is an array."""
    *head, last = parts
    h = 0x6A09E667
    for p in head:
        h = fmix32((((h ^ int(p)) * 0x9E3779B1) + 0x7F4A7C15) & M32)
    v = np.asarray(last).astype(np.uint32)  # mod 2^32, as mix_key's uint32 arithmetic
    v ^= np.uint32(h)
    v *= np.uint32(0x9E3779B1)
    v += np.uint32(0x7F4A7C15)
    return _fmix32_np(v)


def _remember(cache: OrderedDict, key, value, size: int) -> None:
    if len(cache) >= size:
        cache.popitem(last=False)
    cache[key] = value
