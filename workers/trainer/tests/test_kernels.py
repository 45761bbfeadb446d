"""Every fused kernel against its PyTorch reference: forward and every gradient.

Tolerance. `ref` is the reference computed in fp64 and `pt` the plain PyTorch reference at the
inputs' precision. The kernel's max error vs `ref` must be at most

    2 × max(PyTorch's max error vs ref,  λ·√K·u·M)  +  one rounding unit of the output dtype,

- 2 × PyTorch's error (FlashAttention's rule): a kernel as accurate as PyTorch passes;
- λ·√K·u·M, the probabilistic forward-error bound of a length-K fp32 accumulation (Higham & Mary,
  SIAM J. Sci. Comput. 2019): u = 2⁻²⁴ the fp32 unit roundoff, M the fp64 magnitude of the
  accumulated terms (Σ|aᵢ·bᵢ| for a product, not the result, which cancels), λ = 2. This floor keeps
  the test from depending on how accurate one CPU's BLAS happens to be: on an AMD EPYC, PyTorch's
  fp32 `dh` of the linear + cross-entropy (K = 4099 + 16) came out 1.1e-7 from fp64 while the
  kernel's chunked sum came out 3.8e-7, against a bound of 2.0e-6; a wrong gradient is off by 1e-2.
  Ops without a long accumulation pass K = 1 and M = max|ref|;
- the rounding unit, so an op PyTorch happens to compute exactly does not demand bit-exactness
  from a different but equally valid summation order.
"""

from __future__ import annotations

import math

import pytest
import torch

from tokenmill_trainer.kernels import (
    linear_cross_entropy,
    linear_cross_entropy_reference,
    rms_norm,
    rms_norm_reference,
    rope_qk_norm,
    rope_qk_norm_reference,
    rope_tables,
    swiglu,
    swiglu_reference,
)

DTYPES = [torch.float32, torch.bfloat16]
UNIT_ROUNDOFF_FP32 = 2.0**-24
LAMBDA = 2.0


def accumulation_bound(k: int, magnitude: float) -> float:
    """λ·√K·u·M: the error a length-K fp32 accumulation of terms of total magnitude M may carry."""
    return LAMBDA * math.sqrt(k) * UNIT_ROUNDOFF_FP32 * magnitude


def assert_within(name: str, ours: torch.Tensor, pt: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype,
                  bound: float = 0.0) -> None:
    ref = ref.double()
    err_ours = (ours.double() - ref).abs().max().item()
    err_pt = (pt.double() - ref).abs().max().item()
    ulp = torch.finfo(dtype).eps * max(ref.abs().max().item(), 1e-30)
    tol = 2 * max(err_pt, bound) + ulp
    assert err_ours <= tol, (f"{name}: kernel error {err_ours:.3e} > 2 × max(torch error {err_pt:.3e}, "
                             f"accumulation bound {bound:.3e}) + {ulp:.1e}")


def run(fn, inputs, dy):
    """fn(*inputs) and the gradients of <fn(*inputs), dy> w.r.t. every input that requires grad."""
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = fn(*leaves)
    grads = torch.autograd.grad(out, [x for x in leaves if x.requires_grad], dy.to(out.dtype))
    return out.detach(), [g.detach() for g in grads]


def compare(fused, reference, inputs, dy, dtype, names, bounds=None):
    """bounds: name ("out", "h", …) → the accumulation bound of that output (default 0)."""
    bounds = bounds or {}
    low = [x.to(dtype) if x.is_floating_point() else x for x in inputs]
    up = [x.double() if x.is_floating_point() else x for x in inputs]
    out_k, g_k = run(fused, low, dy)
    out_p, g_p = run(reference, low, dy)
    out_r, g_r = run(reference, up, dy)
    assert out_k.dtype == out_p.dtype
    assert_within("out", out_k, out_p, out_r, dtype, bounds.get("out", 0.0))
    for name, a, b, c in zip(names, g_k, g_p, g_r):
        assert a.shape == c.shape and a.dtype == b.dtype, name
        assert_within(f"d{name}", a, b, c, dtype, bounds.get(name, 0.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 7, 64), (3, 5, 123), (1, 33, 576)])
def test_rms_norm(shape, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g) * 3
    w = 1 + 0.1 * torch.randn(shape[-1], generator=g)
    dy = torch.randn(shape, generator=g)
    compare(lambda x, w: rms_norm(x, w, 1e-5), lambda x, w: rms_norm_reference(x, w, 1e-5), [x, w], dy, dtype,
            ["x", "w"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 13, 96), (3, 1000), (1, 5, 2048)])
def test_swiglu(shape, dtype):
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(shape, generator=g) * 2, torch.randn(shape, generator=g)
    dy = torch.randn(shape, generator=g)
    compare(swiglu, swiglu_reference, [a, b], dy, dtype, ["a", "b"])


def test_swiglu_backward_in_place_leaves_leaf_inputs_alone():
    a, b = torch.randn(10, requires_grad=True), torch.randn(10, requires_grad=True)
    before = a.detach().clone()
    swiglu(a, b).sum().backward()
    assert torch.equal(a.detach(), before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 9, 3, 64), (1, 5, 4, 24), (2, 17, 9, 64)])
def test_rope_qk_norm(shape, dtype):
    B, T, H, D = shape
    g = torch.Generator().manual_seed(2)
    x = torch.randn(shape, generator=g) * 2
    dy = torch.randn(shape, generator=g)
    cos32, sin32 = rope_tables(T + 3, D, 10_000.0)
    cos64, sin64 = rope_tables(T + 3, D, 10_000.0, dtype=torch.float64)

    def ref(x):
        c, s = (cos64, sin64) if x.dtype == torch.float64 else (cos32, sin32)
        return rope_qk_norm_reference(x, c, s, 1e-5)

    compare(lambda x: rope_qk_norm(x, cos32, sin32, 1e-5), ref, [x], dy, dtype, ["x"])


def test_rope_matches_llama4_complex_form():
    """Interleaved pairs rotated as complex numbers, as HF Llama4's apply_rotary_emb does."""
    B, T, H, D = 1, 6, 2, 8
    x = torch.randn(B, T, H, D, dtype=torch.float64)
    cos, sin = rope_tables(T, D, 500.0, dtype=torch.float64)
    freqs = torch.polar(torch.ones_like(cos), torch.atan2(sin, cos))
    r = torch.view_as_real(torch.view_as_complex(x.reshape(B, T, H, D // 2, 2)) * freqs[None, :, None, :]).flatten(3)
    want = r * torch.rsqrt(r.pow(2).mean(-1, keepdim=True) + 1e-5)
    torch.testing.assert_close(rope_qk_norm_reference(x, cos, sin, 1e-5), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,hidden,vocab,chunk", [(37, 32, 257, 16), (130, 48, 1000, None), (9, 16, 4099, 4)])
def test_linear_cross_entropy(n, hidden, vocab, chunk, dtype):
    g = torch.Generator().manual_seed(3)
    h = torch.randn(n, hidden, generator=g)
    w = torch.randn(vocab, hidden, generator=g) * 0.3
    t = torch.randint(0, vocab, (n,), generator=g)
    t[::5] = -100
    dy = torch.tensor(1.7)
    # Magnitudes of the accumulated terms, in fp64: dlogits G = (softmax − onehot)·dy/n_valid, then
    # dh = G·W sums over the vocabulary and dW = Gᵀ·h over the rows; the logits before them sum over
    # the hidden size and the softmax over the vocabulary.
    valid = t != -100
    logits = h.double() @ w.double().t()
    onehot = torch.zeros_like(logits)
    onehot[valid, t[valid]] = 1
    G = (torch.softmax(logits, -1) - onehot) * valid[:, None] * (dy.item() / valid.sum().item())
    lse = torch.logsumexp(logits, -1)
    bounds = {
        "out": accumulation_bound(hidden + vocab, (lse.abs() + logits.abs().amax(-1))[valid].mean().item()),
        "h": accumulation_bound(hidden + vocab, (G.abs() @ w.double().abs()).max().item()),
        "w": accumulation_bound(hidden + vocab + n, (G.abs().t() @ h.double().abs()).max().item()),
    }
    compare(lambda h, w: linear_cross_entropy(h, w, t, chunk_rows=chunk),
            lambda h, w: linear_cross_entropy_reference(h, w, t), [h, w], dy, dtype, ["h", "w"], bounds)


def test_linear_cross_entropy_all_ignored_gives_zero_grad():
    h = torch.randn(4, 8, requires_grad=True)
    w = torch.randn(11, 8, requires_grad=True)
    loss = linear_cross_entropy(h, w, torch.full((4,), -100))
    loss.backward()
    assert loss.item() == 0 and h.grad.abs().max() == 0 and w.grad.abs().max() == 0
