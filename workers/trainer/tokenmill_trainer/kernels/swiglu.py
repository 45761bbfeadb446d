"""SwiGLU activation: c = silu(a) · b, the elementwise part of the MLP (the matmuls stay in cuBLAS).

Saves a and b only; backward recomputes silu and writes da, db in place into a's and b's buffers
(Liger's trick: the projections' outputs are not needed by anything else), so the backward
allocates nothing.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


def swiglu_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    cdt = torch.promote_types(a.dtype, torch.float32)
    af = a.to(cdt)
    return (af * torch.sigmoid(af) * b.to(cdt)).to(a.dtype)


@triton.jit(do_not_specialize=["n"])
def _swiglu_fwd_kernel(a_ptr, b_ptr, c_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    c = a * tl.sigmoid(a) * b
    tl.store(c_ptr + offs, c.to(c_ptr.dtype.element_ty), mask=mask)


@triton.jit(do_not_specialize=["n"])
def _swiglu_bwd_kernel(dc_ptr, a_ptr, b_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    dc = tl.load(dc_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    sig = tl.sigmoid(a)
    silu = a * sig
    da = dc * b * sig * (1.0 + a * (1.0 - sig))
    db = dc * silu
    tl.store(a_ptr + offs, da.to(a_ptr.dtype.element_ty), mask=mask)
    tl.store(b_ptr + offs, db.to(b_ptr.dtype.element_ty), mask=mask)


_BLOCK = 1024


def swiglu_forward(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    assert a.shape == b.shape and a.dtype == b.dtype
    a, b = a.contiguous(), b.contiguous()
    c = torch.empty_like(a)
    n = a.numel()
    _swiglu_fwd_kernel[(triton.cdiv(n, _BLOCK),)](a, b, c, n, BLOCK=_BLOCK, num_warps=4)
    return c


def swiglu_backward(dc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Overwrites a and b with da and db and returns them."""
    dc = dc.contiguous()
    n = a.numel()
    _swiglu_bwd_kernel[(triton.cdiv(n, _BLOCK),)](dc, a, b, n, BLOCK=_BLOCK, num_warps=4)
    return a, b


class SwiGLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        # In-place backward only into buffers nobody else holds: a leaf's data is the caller's.
        ctx.inplace = not (a.is_leaf or b.is_leaf)
        a, b = a.contiguous(), b.contiguous()
        c = swiglu_forward(a, b)
        ctx.save_for_backward(a, b)
        return c

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved_tensors
        if not ctx.inplace:
            a, b = a.clone(), b.clone()
        return swiglu_backward(dc, a, b)


def swiglu(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return SwiGLUFunction.apply(a, b)
