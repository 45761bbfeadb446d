"""Checkpoints: model, optimizer, schedule position, RNG and data position, with the identities a
resume must match (plan fingerprint, tokenizer, model config).

Layout: <dir>/step-00000100/{model.pt, optimizer.pt, state.json}. A checkpoint is written to a
temporary folder and renamed, so a folder named step-* is always complete. Distributed runs gather
full (unsharded) state dicts to rank 0, which writes them: a checkpoint loads into any world size.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = 1


def identities(plan: dict, manifests: dict[str, dict], model_identity: dict) -> dict[str, Any]:
    tokenizers = sorted({json.dumps(m.get("tokenizer", {}), sort_keys=True) for m in manifests.values()})
    return {"plan_fingerprint": plan.get("fingerprint"), "tokenizer": [json.loads(t) for t in tokenizers],
            "model": model_identity}


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def list_checkpoints(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if p.is_dir() and (p / "state.json").exists())


def save(root: str | Path, step: int, model_state: dict, optim_state: dict, state: dict[str, Any],
         keep: int = 0) -> Path:
    root = Path(root)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(model_state, tmp / "model.pt")
    torch.save({"optimizer": optim_state, "rng": rng_state()}, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"format": FORMAT, "step": step, **state}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if keep:
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / "state.json").read_text())


def check_identity(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Refuses a resume whose plan, tokenizer or model differ from the checkpoint's."""
    for key, what in (("plan_fingerprint", "mixture plan fingerprint"), ("tokenizer", "tokenizer"),
                      ("model", "model config")):
        if saved.get(key) != current.get(key):
            raise ValueError(f"refusing to resume from {path}: the {what} changed "
                             f"(checkpoint: {json.dumps(saved.get(key))}, now: {json.dumps(current.get(key))})")


def load(path: str | Path) -> tuple[dict, dict, dict[str, Any]]:
    path = Path(path)
    model_state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    extra = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
    set_rng_state(extra["rng"])
    return model_state, extra["optimizer"], read_state(path)
