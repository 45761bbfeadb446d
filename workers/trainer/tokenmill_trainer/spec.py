"""Training job spec (contract 5): the JSON the launcher writes and the trainer's only input.

A tree of dataclasses; `JobSpec.from_json` validates and raises ValueError naming the field
(e.g. "optimizer.betas: ..."). The documented shape is in workers/trainer/README.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ModelConfig, model_config

SPEC_VERSION = 1


def _fields(cls, d: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected an object, got {type(d).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    return d


def _positive(where: str, v: Any, *, integer: bool = False, zero_ok: bool = False) -> None:
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type or (isinstance(v, float) and not math.isfinite(v)):
        raise ValueError(f"{where}: expected a {'whole number' if integer else 'number'}, got {v!r}")
    if v < 0 or (v == 0 and not zero_ok):
        raise ValueError(f"{where}: must be {'≥ 0' if zero_ok else '> 0'}, got {v!r}")


@dataclass(kw_only=True, slots=True)
class OptimizerSpec:
    """AdamW; defaults are MobileLLM-R1 pre-training's (research/mobilellm-r1.md 4.1)."""

    lr: float = 4e-3
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.1
    #: Max global gradient L2 norm; 0 disables clipping. HF Trainer's default, used by the release.
    grad_clip: float = 1.0

    def validate(self) -> None:
        _positive("optimizer.lr", self.lr)
        if len(self.betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas):
            raise ValueError(f"optimizer.betas: expected two numbers in [0, 1), got {list(self.betas)!r}")
        _positive("optimizer.eps", self.eps)
        _positive("optimizer.weight_decay", self.weight_decay, zero_ok=True)
        _positive("optimizer.grad_clip", self.grad_clip, zero_ok=True)


@dataclass(kw_only=True, slots=True)
class ScheduleSpec:
    warmup_steps: int = 2000
    #: "linear" (the paper) or "cosine" (the released code) decay from peak to min_lr_ratio·peak.
    decay: str = "linear"
    min_lr_ratio: float = 0.1
    #: Steps of the schedule; default: every sequence of the plan once (plan sequences ÷ global batch).
    total_steps: int | None = None

    def validate(self) -> None:
        _positive("schedule.warmup_steps", self.warmup_steps, integer=True, zero_ok=True)
        if self.decay not in ("linear", "cosine", "constant"):
            raise ValueError(f"schedule.decay: expected 'linear', 'cosine' or 'constant', got {self.decay!r}")
        if not isinstance(self.min_lr_ratio, (int, float)) or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"schedule.min_lr_ratio: expected a number in [0, 1], got {self.min_lr_ratio!r}")
        if self.total_steps is not None:
            _positive("schedule.total_steps", self.total_steps, integer=True)


@dataclass(kw_only=True, slots=True)
class BatchSpec:
    #: Sequences per GPU per micro-step; global batch = micro_batch_size · grad_accum · world size.
    micro_batch_size: int = 16
    grad_accum: int = 1

    def validate(self) -> None:
        _positive("batch.micro_batch_size", self.micro_batch_size, integer=True)
        _positive("batch.grad_accum", self.grad_accum, integer=True)


@dataclass(kw_only=True, slots=True)
class DatasetLocation:
    #: Folder of the dataset version: a local path, file://..., or s3://bucket/prefix/.
    uri: str
    #: The manifest; read from <uri>/manifest.json when absent.
    manifest: dict[str, Any] | None = None


@dataclass(kw_only=True, slots=True)
class DataSpec:
    #: The normalized mixture plan (contract 4).
    plan: dict[str, Any]
    #: Plan dataset key → where its shards are.
    datasets: dict[str, DatasetLocation]
    #: Local cache for shards fetched from S3 (default: <output_dir>/shard-cache).
    cache_dir: str | None = None
    #: Check each shard's sha256 against the manifest before first use.
    verify_sha256: bool = True

    def validate(self) -> None:
        if not isinstance(self.plan, dict):
            raise ValueError("data.plan: expected the mixture plan object")
        for k in ("plan_version", "seed", "seq_len", "sequences", "phases", "datasets", "fingerprint"):
            if k not in self.plan:
                raise ValueError(f"data.plan.{k}: missing")
        missing = sorted(set(self.plan["datasets"]) - set(self.datasets))
        if missing:
            raise ValueError(f"data.datasets: no location for plan dataset(s) {missing}")


@dataclass(kw_only=True, slots=True)
class CheckpointSpec:
    #: Folder for checkpoints (local path). Resume reads the newest complete one here.
    dir: str
    #: Checkpoint every this many steps; null: every `every_fraction` of the run's steps instead, so
    #: a short run checkpoints too (a fixed 1000 meant runs under 1000 steps restarted from zero).
    every_steps: int | None = None
    #: With every_steps null: checkpoint after each this share of the run's steps (0.1: ten per run).
    every_fraction: float = 0.1
    #: Also checkpoint once this many seconds of wall time passed since the last one; 0 disables.
    every_s: float = 600.0
    #: Complete checkpoints kept; older ones are deleted. 0 keeps all.
    keep: int = 2
    #: "auto": resume when a checkpoint exists; "never": refuse to start over an existing one;
    #: "required": fail when there is none.
    resume: str = "auto"

    def validate(self) -> None:
        if not self.dir:
            raise ValueError("checkpoint.dir: required")
        if self.every_steps is not None:
            _positive("checkpoint.every_steps", self.every_steps, integer=True)
        if not isinstance(self.every_fraction, (int, float)) or isinstance(self.every_fraction, bool) \
                or not 0 < self.every_fraction <= 1:
            raise ValueError(f"checkpoint.every_fraction: expected a number in (0, 1], got {self.every_fraction!r}")
        _positive("checkpoint.every_s", self.every_s, zero_ok=True)
        _positive("checkpoint.keep", self.keep, integer=True, zero_ok=True)
        if self.resume not in ("auto", "never", "required"):
            raise ValueError(f"checkpoint.resume: expected 'auto', 'never' or 'required', got {self.resume!r}")

    def interval(self, run_steps: int) -> int:
        """Steps between checkpoints for a run of `run_steps` steps."""
        if self.every_steps is not None:
            return self.every_steps
        return max(1, math.ceil(run_steps * self.every_fraction))


@dataclass(kw_only=True, slots=True)
class ProgressSpec:
    #: POST target for progress reports (contract 6); null: local JSONL output only.
    endpoint: str | None = None
    #: Run-scoped bearer token; the TOKENMILL_RUN_TOKEN environment variable overrides it.
    token: str | None = None
    every_steps: int = 10
    #: Seconds per HTTP attempt.
    timeout_s: float = 10.0

    def validate(self) -> None:
        _positive("progress.every_steps", self.every_steps, integer=True)
        _positive("progress.timeout_s", self.timeout_s)
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"progress.endpoint: expected an http(s) URL, got {self.endpoint!r}")


@dataclass(kw_only=True, slots=True)
class RuntimeSpec:
    #: "auto" (cuda when available), "cuda" or "cpu".
    device: str = "auto"
    #: "auto" (bf16 autocast on GPU, fp32 on CPU), "bf16" or "fp32".
    precision: str = "auto"
    #: "auto": fused Triton kernels on GPU, PyTorch reference ops on CPU.
    kernels: str = "auto"
    compile: bool = False
    #: "auto": DDP when several processes (torchrun); "fsdp" shards params (FSDP2), for the 950M.
    parallel: str = "auto"

    def validate(self) -> None:
        for name, allowed in (("device", ("auto", "cuda", "cpu")), ("precision", ("auto", "bf16", "fp32")),
                              ("kernels", ("auto", "triton", "reference")), ("parallel", ("auto", "ddp", "fsdp"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"runtime.{name}: expected one of {list(allowed)}, got {getattr(self, name)!r}")


@dataclass(kw_only=True, slots=True)
class JobSpec:
    spec_version: int = SPEC_VERSION
    run_id: str
    seed: int = 0
    #: {"recipe": "mobilellm-r1-140m", ...field overrides} or every ModelConfig field.
    model: dict[str, Any]
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    batch: BatchSpec = field(default_factory=BatchSpec)
    data: DataSpec
    checkpoint: CheckpointSpec
    progress: ProgressSpec = field(default_factory=ProgressSpec)
    runtime: RuntimeSpec = field(default_factory=RuntimeSpec)
    #: Logs, the progress spool, the shard cache. Default: the checkpoint folder.
    output_dir: str | None = None
    #: Stop after this many optimizer steps (a scaled-down run); the schedule still spans total_steps.
    max_steps: int | None = None

    def model_config(self, kernels: str = "reference") -> ModelConfig:
        d = dict(self.model)
        recipe = d.pop("recipe", None)
        d.setdefault("kernels", kernels)
        if recipe is not None and "max_seq_len" not in d and isinstance(self.data, DataSpec) \
                and isinstance(self.data.plan, dict) and isinstance(self.data.plan.get("seq_len"), int):
            # A named recipe without an explicit max_seq_len follows the plan: RoPE has no learned
            # positions, so "--model tiny" trains a 512-token plan without a second override. An
            # explicit max_seq_len is kept, and the check in validate() still refuses a plan above it.
            d["max_seq_len"] = max(model_config(recipe).max_seq_len, self.data.plan["seq_len"])
        try:
            return model_config(recipe, **d)
        except TypeError as e:
            raise ValueError(f"model: {e}") from None

    def validate(self) -> None:
        if self.spec_version != SPEC_VERSION:
            raise ValueError(f"spec_version: this trainer reads version {SPEC_VERSION}, got {self.spec_version!r}")
        if not isinstance(self.run_id, str) or not self.run_id:
            raise ValueError("run_id: required (a non-empty string)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed: expected an integer, got {self.seed!r}")
        if not isinstance(self.model, dict):
            raise ValueError("model: expected an object")
        self.model_config()
        for part in (self.optimizer, self.schedule, self.batch, self.data, self.checkpoint, self.progress, self.runtime):
            part.validate()
        if self.max_steps is not None:
            _positive("max_steps", self.max_steps, integer=True)
        seq_len = int(self.data.plan["seq_len"])
        if seq_len > self.model_config().max_seq_len:
            raise ValueError(f"data.plan.seq_len: {seq_len} exceeds model.max_seq_len {self.model_config().max_seq_len}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSpec:
        d = dict(_fields(cls, d, "spec"))
        subs = {"optimizer": OptimizerSpec, "schedule": ScheduleSpec, "batch": BatchSpec, "checkpoint": CheckpointSpec,
                "progress": ProgressSpec, "runtime": RuntimeSpec}
        for name in ("run_id", "model", "data", "checkpoint"):
            if name not in d:
                raise ValueError(f"{name}: required")
        for name, sub in subs.items():
            if name in d:
                d[name] = sub(**_fields(sub, d[name], name))
        if "optimizer" in d:
            d["optimizer"].betas = tuple(d["optimizer"].betas)
        data = dict(_fields(DataSpec, d["data"], "data"))
        for k in ("plan", "datasets"):
            if k not in data:
                raise ValueError(f"data.{k}: required")
        if not isinstance(data["datasets"], dict):
            raise ValueError("data.datasets: expected an object keyed by plan dataset key")
        data["datasets"] = {k: DatasetLocation(**_fields(DatasetLocation, v, f"data.datasets.{k}"))
                            for k, v in data["datasets"].items()}
        d["data"] = DataSpec(**data)
        spec = cls(**d)
        spec.validate()
        return spec

    @classmethod
    def from_json(cls, path: str | Path) -> JobSpec:
        try:
            d = json.loads(Path(path).read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"spec: {path} is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
