"""LM head + cross-entropy, chunked over tokens so the [tokens × vocab] logits never exist in full.

With a 128256 vocabulary the logits of one 16×2048 micro-batch are 4.2G floats (8.4 GB in bf16,
plus as much again for their gradient): more than the whole 140M model's activations. Following
Liger's FusedLinearCrossEntropy (research/training-anchors.md 2a), the forward walks the tokens in
chunks: logits_chunk = h_chunk · Wᵀ (cuBLAS), then one Triton kernel per row computes the loss with
an online softmax and overwrites the logits with d(loss)/d(logits) in place, then
dh_chunk = g · W and dW += gᵀ · h_chunk. Backward only scales the stored gradients by the incoming
scalar. Peak extra memory: one [chunk × vocab] buffer plus dW in fp32.

Loss is the mean over targets ≠ ignore_index (PyTorch's `reduction="mean"`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

IGNORE_INDEX = -100


def linear_cross_entropy_reference(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                                   ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """h: [N, H], weight: [V, H], targets: [N]. Materializes the logits (the eager baseline)."""
    logits = F.linear(h, weight)
    return F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)), targets,
                           ignore_index=ignore_index)


@triton.jit
def _ce_grad_kernel(logits_ptr, stride, targets_ptr, loss_ptr, V, scale, ignore_index,
                    BLOCK_V: tl.constexpr):
    """One row: loss = logsumexp(x) - x[target]; x := (softmax(x) - onehot(target)) · scale."""
    row = tl.program_id(0).to(tl.int64)
    ptr = logits_ptr + row * stride
    target = tl.load(targets_ptr + row)
    if target == ignore_index:
        for start in range(0, V, BLOCK_V):
            cols = start + tl.arange(0, BLOCK_V)
            tl.store(ptr + cols, tl.zeros((BLOCK_V,), dtype=tl.float32).to(logits_ptr.dtype.element_ty),
                     mask=cols < V)
        tl.store(loss_ptr + row, 0.0)
        return
    m = -float("inf")
    d = 0.0
    for start in range(0, V, BLOCK_V):
        cols = start + tl.arange(0, BLOCK_V)
        x = tl.load(ptr + cols, mask=cols < V, other=-float("inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        d = d * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), axis=0)
        m = m_new
    x_t = tl.load(ptr + target).to(tl.float32)
    lse = m + tl.log(d)
    tl.store(loss_ptr + row, lse - x_t)
    for start in range(0, V, BLOCK_V):
        cols = start + tl.arange(0, BLOCK_V)
        mask = cols < V
        x = tl.load(ptr + cols, mask=mask, other=0.0).to(tl.float32)
        g = tl.exp(x - lse)
        g = tl.where(cols == target, g - 1.0, g) * scale
        tl.store(ptr + cols, g.to(logits_ptr.dtype.element_ty), mask=mask)


def _chunk_rows(n: int, vocab: int, hidden: int) -> int:
    # Liger's heuristic: chunks of about the hidden size's worth of the logits, so the chunk's
    # logits are no bigger than the input h. At least 1024 rows keeps the matmuls efficient.
    inc = max(1, triton.cdiv(vocab, hidden))
    return max(1024, triton.next_power_of_2(triton.cdiv(n, inc)))


def linear_cross_entropy_forward(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                                 ignore_index: int = IGNORE_INDEX, chunk_rows: int | None = None,
                                 compute_dtype: torch.dtype | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Returns (loss, dh, dweight) for the mean loss; dweight is None when weight needs no grad."""
    assert h.dim() == 2 and targets.shape == (h.shape[0],)
    dtype = compute_dtype or h.dtype
    n, hidden = h.shape
    vocab = weight.shape[0]
    hc_all = h.to(dtype)
    w = weight.to(dtype)
    targets = targets.contiguous()
    n_valid = int((targets != ignore_index).sum())
    scale = 1.0 / max(n_valid, 1)
    chunk = chunk_rows or _chunk_rows(n, vocab, hidden)
    dh = torch.empty((n, hidden), dtype=dtype, device=h.device)
    dw = torch.zeros((vocab, hidden), dtype=torch.float32, device=h.device) if weight.requires_grad else None
    losses = torch.empty(n, dtype=torch.float32, device=h.device)
    block_v = min(4096, triton.next_power_of_2(vocab))
    for start in range(0, n, chunk):
        end = min(start + chunk, n)
        hc = hc_all[start:end]
        logits = hc @ w.t()
        _ce_grad_kernel[(end - start,)](logits, logits.stride(0), targets[start:end], losses[start:end], vocab,
                                        scale, ignore_index, BLOCK_V=block_v, num_warps=8)
        torch.mm(logits, w, out=dh[start:end])
        if dw is not None:
            dw.add_(logits.t() @ hc)
    loss = losses.sum() * scale
    return loss, dh, dw


class LinearCrossEntropyFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, targets, ignore_index, chunk_rows, compute_dtype):
        with torch.autocast(h.device.type, enabled=False):
            loss, dh, dw = linear_cross_entropy_forward(h, weight, targets, ignore_index, chunk_rows, compute_dtype)
        ctx.save_for_backward(dh, dw if dw is not None else torch.empty(0))
        ctx.has_dw = dw is not None
        ctx.h_dtype, ctx.w_dtype = h.dtype, weight.dtype
        return loss

    @staticmethod
    def backward(ctx, dloss):
        dh, dw = ctx.saved_tensors
        dh = (dh * dloss.to(dh.dtype)).to(ctx.h_dtype)
        dw = (dw * dloss).to(ctx.w_dtype) if ctx.has_dw else None
        return dh, dw, None, None, None, None


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         ignore_index: int = IGNORE_INDEX, chunk_rows: int | None = None,
                         compute_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Mean cross-entropy of `h @ weight.T` against targets, without materializing all logits.

    compute_dtype: dtype of the matmuls and of the logits chunk (default h's dtype); the softmax
    and the loss are always fp32.
    """
    return LinearCrossEntropyFunction.apply(h, weight, targets, ignore_index, chunk_rows, compute_dtype)
