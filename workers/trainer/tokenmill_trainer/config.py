"""Model configuration and the named MobileLLM-R1 recipes (torchtitan's shape: dataclasses + functions).

Shapes come from ../shared/research/mobilellm-r1-recipe.json ("models"), which cites the paper's
Table 1 and third-party copies of the released config.json. Parameter counts with those shapes
(tied embeddings, no biases, parameter-free QK-norm) equal the paper's: see `num_params`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Kernels = Literal["reference", "triton"]


@dataclass(kw_only=True, slots=True)
class ModelConfig:
    """A MobileLLM-R1 decoder. Every field is part of a checkpoint's identity (see `identity`)."""

    name: str
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    head_dim: int = 64
    vocab_size: int = 128256
    #: RMSNorm eps, also used by the parameter-free QK-norm (HF Llama4TextL2Norm takes rms_norm_eps).
    norm_eps: float = 1e-5
    #: 1e6 for the 4k-context base models: the released 32k models use 8e6 after an 8x scale-up
    #: (research/mobilellm-r1.md 1.2; the base value is inferred, not seen in a released config).
    rope_theta: float = 1_000_000.0
    max_seq_len: int = 4096
    #: Std of the normal init of every weight matrix (HF initializer_range 0.02).
    init_std: float = 0.02
    #: "triton" runs the fused kernels (GPU, or CPU under TRITON_INTERPRET=1); "reference" is
    #: plain PyTorch. Not part of `identity`: a checkpoint trained with one loads into the other.
    kernels: Kernels = "reference"

    def __post_init__(self) -> None:
        for f in ("dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "head_dim", "vocab_size"):
            if getattr(self, f) <= 0:
                raise ValueError(f"model.{f} must be positive, got {getattr(self, f)}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"model.n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"model.head_dim must be even for RoPE, got {self.head_dim}")
        if self.kernels not in ("reference", "triton"):
            raise ValueError(f"model.kernels must be 'reference' or 'triton', got {self.kernels!r}")

    def identity(self) -> dict[str, Any]:
        """The fields that define the weights' meaning; resume refuses a checkpoint whose identity differs."""
        d = dataclasses.asdict(self)
        d.pop("kernels")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"model: unknown field(s) {unknown}")
        return cls(**d)


def num_params(cfg: ModelConfig) -> int:
    """Parameters with tied embeddings counted once."""
    q = cfg.dim * cfg.n_heads * cfg.head_dim
    kv = 2 * cfg.dim * cfg.n_kv_heads * cfg.head_dim
    o = cfg.n_heads * cfg.head_dim * cfg.dim
    mlp = 3 * cfg.dim * cfg.ffn_dim
    per_layer = q + kv + o + mlp + 2 * cfg.dim
    return cfg.vocab_size * cfg.dim + cfg.n_layers * per_layer + cfg.dim


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token: 6N (N includes the LM head once) + 12·L·d_attn·T for attention.

    The MPT/nanochat convention (research/training-anchors.md 0): attention is not halved for
    causality, so MFU figures compare with the published anchors. The embedding lookup does no
    matmul but the tied LM head does, so N here is the full parameter count.
    """
    return 6.0 * num_params(cfg) + 12.0 * cfg.n_layers * cfg.n_heads * cfg.head_dim * seq_len


def mobilellm_r1_140m(**kw: Any) -> ModelConfig:
    return ModelConfig(name="mobilellm-r1-140m", dim=576, n_layers=15, n_heads=9, n_kv_heads=3, ffn_dim=2048, **kw)


def mobilellm_r1_360m(**kw: Any) -> ModelConfig:
    return ModelConfig(name="mobilellm-r1-360m", dim=1024, n_layers=15, n_heads=16, n_kv_heads=4, ffn_dim=4096, **kw)


def mobilellm_r1_950m(**kw: Any) -> ModelConfig:
    return ModelConfig(name="mobilellm-r1-950m", dim=1536, n_layers=22, n_heads=24, n_kv_heads=6, ffn_dim=6144, **kw)


def tiny(**kw: Any) -> ModelConfig:
    """CPU tests: the real 128256 vocabulary (shards carry Llama-3 ids), everything else tiny."""
    base = dict(name="tiny", dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=128, head_dim=16, max_seq_len=256)
    base.update(kw)
    return ModelConfig(**base)


def micro(**kw: Any) -> ModelConfig:
    """Kernel-level and unit tests: a small vocabulary too (no real tokens involved)."""
    base = dict(name="micro", dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=48, head_dim=8,
                vocab_size=257, max_seq_len=64)
    base.update(kw)
    return ModelConfig(**base)


RECIPES = {
    "mobilellm-r1-140m": mobilellm_r1_140m,
    "mobilellm-r1-360m": mobilellm_r1_360m,
    "mobilellm-r1-950m": mobilellm_r1_950m,
    "tiny": tiny,
    "micro": micro,
}


def model_config(recipe: str | None = None, **overrides: Any) -> ModelConfig:
    """A named recipe with field overrides, or (recipe=None) a config entirely from `overrides`."""
    if recipe is None:
        return ModelConfig.from_dict(overrides)
    if recipe not in RECIPES:
        raise ValueError(f"model.recipe: unknown recipe {recipe!r}; known: {sorted(RECIPES)}")
    return RECIPES[recipe](**overrides)
