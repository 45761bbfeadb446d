"""Every fused kernel against its PyTorch reference: forward and every gradient.

Tolerance (STYLE.md, FlashAttention's rule): with `ref` the reference computed one precision up
(fp64 for fp32 inputs, fp32 for bf16 inputs) and `pt` the plain PyTorch reference at the inputs'
precision, the kernel's max error vs `ref` must be at most 2× PyTorch's max error vs `ref`, plus
one unit of rounding of the output's dtype at the output's scale (so an op that PyTorch happens
to compute exactly does not demand bit-exactness from a different but equally valid summation
order).
"""

from __future__ import annotations

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
UP = {torch.float32: torch.float64, torch.bfloat16: torch.float32}


def assert_within(name: str, ours: torch.Tensor, pt: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype) -> None:
    ref = ref.double()
    err_ours = (ours.double() - ref).abs().max().item()
    err_pt = (pt.double() - ref).abs().max().item()
    ulp = torch.finfo(dtype).eps * max(ref.abs().max().item(), 1e-30)
    assert err_ours <= 2 * err_pt + ulp, f"{name}: kernel error {err_ours:.3e} > 2 × torch error {err_pt:.3e} + {ulp:.1e}"


def run(fn, inputs, dy):
    """fn(*inputs) and the gradients of <fn(*inputs), dy> w.r.t. every input that requires grad."""
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = fn(*leaves)
    grads = torch.autograd.grad(out, [x for x in leaves if x.requires_grad], dy.to(out.dtype))
    return out.detach(), [g.detach() for g in grads]


def compare(fused, reference, inputs, dy, dtype, names):
    low = [x.to(dtype) if x.is_floating_point() else x for x in inputs]
    up = [x.to(UP[dtype]) if x.is_floating_point() else x for x in inputs]
    out_k, g_k = run(fused, low, dy)
    out_p, g_p = run(reference, low, dy)
    out_r, g_r = run(reference, up, dy)
    assert out_k.dtype == out_p.dtype
    assert_within("out", out_k, out_p, out_r, dtype)
    for name, a, b, c in zip(names, g_k, g_p, g_r):
        assert a.shape == c.shape and a.dtype == b.dtype, name
        assert_within(f"d{name}", a, b, c, dtype)


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
    compare(lambda h, w: linear_cross_entropy(h, w, t, chunk_rows=chunk),
            lambda h, w: linear_cross_entropy_reference(h, w, t), [h, w], dy, dtype, ["h", "w"])


def test_linear_cross_entropy_all_ignored_gives_zero_grad():
    h = torch.randn(4, 8, requires_grad=True)
    w = torch.randn(11, 8, requires_grad=True)
    loss = linear_cross_entropy(h, w, torch.full((4,), -100))
    loss.backward()
    assert loss.item() == 0 and h.grad.abs().max() == 0 and w.grad.abs().max() == 0
