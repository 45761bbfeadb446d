"""RoPE followed by the parameter-free QK-norm, in one pass over q or k.

Semantics follow HF Llama4 (the released MobileLLM-R1 checkpoints are `llama4_text`):
- RoPE rotates *interleaved* pairs (x[2i], x[2i+1]) by t·θ_i, θ_i = theta^(-2i/d) (Llama4's
  complex-number form, not the rotate-half layout of HF Llama);
- then Llama4TextL2Norm: y = r · rsqrt(mean(r²) + eps), no weight, computed in fp32.

x is [B, T, H, D] contiguous; one program handles BLOCK_R rows of D. Backward recomputes the
rotation and the norm from x (nothing but x is saved) and applies the inverse rotation.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


def rope_tables(seq_len: int, head_dim: int, theta: float, device=None, dtype=torch.float32
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape [seq_len, head_dim // 2], fp32 (computed in fp64 so both paths share them)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv_freq)
    return angles.cos().to(device, dtype), angles.sin().to(device, dtype)


def rope_qk_norm_reference(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float) -> torch.Tensor:
    """x: [B, T, H, D]; cos/sin: [>=T, D/2]."""
    T = x.shape[1]
    xf = x.to(torch.promote_types(x.dtype, cos.dtype))
    even, odd = xf[..., 0::2], xf[..., 1::2]
    c = cos[:T, None, :]
    s = sin[:T, None, :]
    r = torch.stack((even * c - odd * s, even * s + odd * c), dim=-1).flatten(-2)
    y = r * torch.rsqrt(r.pow(2).mean(-1, keepdim=True) + eps)
    return y.to(x.dtype)


@triton.jit(do_not_specialize=["n_rows", "T"])
def _rope_qk_norm_kernel(x_ptr, y_ptr, dy_ptr, cos_ptr, sin_ptr, n_rows, T, H, eps,
                         HALF: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_R: tl.constexpr,
                         BACKWARD: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    pairs = tl.arange(0, BLOCK_H)
    rmask = rows < n_rows
    pmask = pairs < HALF
    mask = rmask[:, None] & pmask[None, :]
    t = (rows // H) % T
    tab = t[:, None] * HALF + pairs[None, :]
    c = tl.load(cos_ptr + tab, mask=mask, other=0.0)
    s = tl.load(sin_ptr + tab, mask=mask, other=0.0)
    base = rows[:, None] * (2 * HALF) + 2 * pairs[None, :]
    e = tl.load(x_ptr + base, mask=mask, other=0.0).to(tl.float32)
    o = tl.load(x_ptr + base + 1, mask=mask, other=0.0).to(tl.float32)
    re = e * c - o * s
    ro = e * s + o * c
    ms = (tl.sum(re * re, axis=1) + tl.sum(ro * ro, axis=1)) / (2 * HALF)
    rstd = 1.0 / tl.sqrt(ms + eps)
    ye = re * rstd[:, None]
    yo = ro * rstd[:, None]
    if BACKWARD:
        dye = tl.load(dy_ptr + base, mask=mask, other=0.0).to(tl.float32)
        dyo = tl.load(dy_ptr + base + 1, mask=mask, other=0.0).to(tl.float32)
        dot = (tl.sum(dye * ye, axis=1) + tl.sum(dyo * yo, axis=1)) / (2 * HALF)
        dre = rstd[:, None] * (dye - ye * dot[:, None])
        dro = rstd[:, None] * (dyo - yo * dot[:, None])
        # inverse rotation (transpose of [[c, -s], [s, c]])
        ye = dre * c + dro * s
        yo = -dre * s + dro * c
    tl.store(y_ptr + base, ye.to(y_ptr.dtype.element_ty), mask=mask)
    tl.store(y_ptr + base + 1, yo.to(y_ptr.dtype.element_ty), mask=mask)


def _launch(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float, dy: torch.Tensor | None
            ) -> torch.Tensor:
    B, T, H, D = x.shape
    assert cos.shape[0] >= T and cos.shape[1] * 2 == D and cos.dtype == torch.float32
    x = x.contiguous()
    out = torch.empty_like(x)
    n_rows = B * T * H
    half = D // 2
    block_h = triton.next_power_of_2(half)
    block_r = max(1, min(64, 4096 // block_h))
    grid = (triton.cdiv(n_rows, block_r),)
    _rope_qk_norm_kernel[grid](x, out, dy.contiguous() if dy is not None else x, cos.contiguous(), sin.contiguous(),
                               n_rows, T, H, eps, HALF=half, BLOCK_H=block_h, BLOCK_R=block_r,
                               BACKWARD=dy is not None, num_warps=4)
    return out


def rope_qk_norm_forward(x, cos, sin, eps):
    return _launch(x, cos, sin, eps, None)


def rope_qk_norm_backward(dy, x, cos, sin, eps):
    return _launch(x, cos, sin, eps, dy)


class RopeQKNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, cos, sin, eps):
        ctx.save_for_backward(x, cos, sin)
        ctx.eps = eps
        return rope_qk_norm_forward(x, cos, sin, eps)

    @staticmethod
    def backward(ctx, dy):
        x, cos, sin = ctx.saved_tensors
        return rope_qk_norm_backward(dy, x, cos, sin, ctx.eps), None, None, None


def rope_qk_norm(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float) -> torch.Tensor:
    """RoPE then parameter-free QK-norm on x [B, T, H, D]; apply to q and to k separately."""
    return RopeQKNormFunction.apply(x, cos, sin, eps)
