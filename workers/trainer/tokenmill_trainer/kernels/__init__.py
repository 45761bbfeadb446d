"""Fused Triton kernels, one file per op (Liger's layout).

Each module has private `@triton.jit` kernels, host `*_forward` / `*_backward` functions, an
`autograd.Function`, and a plain-PyTorch `*_reference` that defines the op's semantics. The model
picks one or the other with `ModelConfig.kernels`. On a CPU the kernels run only under
TRITON_INTERPRET=1 (the tests set it); on a GPU they compile, or load from the cache that
`tokenmill_trainer.aot` fills at image build time.
"""

from .linear_cross_entropy import linear_cross_entropy, linear_cross_entropy_reference
from .rms_norm import rms_norm, rms_norm_reference
from .rope_qk_norm import rope_qk_norm, rope_qk_norm_reference, rope_tables
from .swiglu import swiglu, swiglu_reference

__all__ = [
    "linear_cross_entropy",
    "linear_cross_entropy_reference",
    "rms_norm",
    "rms_norm_reference",
    "rope_qk_norm",
    "rope_qk_norm_reference",
    "rope_tables",
    "swiglu",
    "swiglu_reference",
]
