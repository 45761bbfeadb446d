"""Shared fixtures. Triton kernels run on CPU through the interpreter: TRITON_INTERPRET must be set
before triton is first imported, so it is set here, at collection time."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.ipc as ipc  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
EOS = 128001


def write_dataset(out: Path, name: str, docs: list[list[int]], per_shard: int, like: dict) -> dict:
    """A dataset version folder following contract 2/3 (shards + manifest), tokenizer copied from `like`."""
    import hashlib

    out.mkdir(parents=True, exist_ok=True)
    meta = {b"tokenmill.shard_schema_version": b"1", b"tokenmill.dataset_fingerprint": f"fp-{name}".encode(),
            b"tokenmill.tokenizer_id": like["id"].encode(), b"tokenmill.tokenizer_vocab_sha256": like["vocab_sha256"].encode(),
            b"tokenmill.vocab_size": str(like["vocab_size"]).encode()}
    schema = pa.schema([("doc_id", pa.string()), ("tokens", pa.list_(pa.uint32())), ("num_tokens", pa.uint32()),
                        ("meta", pa.string())], metadata=meta)
    shards = []
    for si in range(0, len(docs), per_shard):
        part = docs[si:si + per_shard]
        table = pa.table({"doc_id": [f"{name}-{si + i}" for i in range(len(part))],
                          "tokens": pa.array(part, type=pa.list_(pa.uint32())),
                          "num_tokens": pa.array([len(d) for d in part], type=pa.uint32()),
                          "meta": ["{}"] * len(part)}, schema=schema)
        file = f"shard-{si // per_shard:05d}-0000.arrow"
        with ipc.new_file(out / file, schema) as w:
            w.write_table(table)
        data = (out / file).read_bytes()
        shards.append({"file": file, "rows": len(part), "tokens": sum(map(len, part)), "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"manifest_version": 1, "dataset": name, "fingerprint": f"fp-{name}", "tokenizer": like,
                "pipeline": {"name": "test", "hash": "x"}, "code_version": "test", "inputs": [], "shards": shards,
                "totals": {"shards": len(shards), "rows": len(docs), "tokens": sum(map(len, docs)),
                           "bytes": sum(s["bytes"] for s in shards)}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def make_plan(manifests: dict[str, dict], components: list[dict], *, seq_len: int, tokens: int, seed: int = 3,
              block_size: int = 8) -> dict:
    """A mixture plan from the project's own TypeScript planner (packages/domain planMixture)."""
    script = f"""
import {{ planMixture, datasetInfoFromManifest }} from "@tokenmill/domain";
const manifests = {json.dumps(manifests)};
const infos = Object.fromEntries(Object.entries(manifests).map(([k, m]) => [k, datasetInfoFromManifest(k, m)]));
const plan = planMixture({{ seed: {seed}, seq_len: {seq_len}, tokenizer: "llama3", block_size: {block_size},
  phases: [{{ name: "p1", tokens: {tokens}, components: {json.dumps(components)} }}] }}, (ref) => infos[ref]);
process.stdout.write(JSON.stringify(plan));
"""
    out = subprocess.run(["npx", "--no-install", "tsx", "-e", script], cwd=REPO, capture_output=True, text=True,
                         check=False, timeout=120)
    if out.returncode:
        raise RuntimeError(f"planMixture failed: {out.stderr}")
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def datasets(tmp_path_factory) -> dict:
    """`web`: shards made by the real curator (`tokenmill curate local` over data/samples);
    `math`: a small pyarrow-made dataset (so the plan repeats it many times)."""
    if shutil.which("npx") is None:
        pytest.fail("node/npx is required: the trainer's data tests use shards made by `tokenmill curate`")
    root = tmp_path_factory.mktemp("datasets")
    web = root / "web"
    res = subprocess.run(["npx", "--no-install", "tokenmill", "curate", "local", "--input", "data/samples", "--out", str(web)],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    if res.returncode:
        pytest.fail(f"tokenmill curate local failed: {res.stderr[-2000:]}")
    web_manifest = json.loads((web / "manifest.json").read_text())
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 128000, size=int(n)).tolist() for n in rng.integers(5, 60, size=23)]
    math_manifest = write_dataset(root / "math", "math", docs, per_shard=6, like=web_manifest["tokenizer"])
    return {"web": {"uri": str(web), "manifest": web_manifest},
            "math": {"uri": f"file://{root / 'math'}", "manifest": math_manifest}}


@pytest.fixture(scope="session")
def plan(datasets) -> dict:
    manifests = {k: v["manifest"] for k, v in datasets.items()}
    return make_plan(manifests, [{"name": "web", "dataset": "web", "weight": 3},
                                 {"name": "math", "dataset": "math", "weight": 1}], seq_len=32, tokens=32 * 96)
