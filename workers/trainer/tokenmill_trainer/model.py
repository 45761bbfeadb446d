"""MobileLLM-R1: a deep-thin Llama-style decoder (GQA, SwiGLU, RMSNorm, RoPE + parameter-free
QK-norm after RoPE, tied embeddings, no biases). Parameter names map 1:1 onto HF Llama4 (export.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .kernels import (
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
from .kernels.linear_cross_entropy import IGNORE_INDEX


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, fused: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps
        self.fused = fused

    def forward(self, x_BTD: torch.Tensor) -> torch.Tensor:
        return (rms_norm if self.fused else rms_norm_reference)(x_BTD, self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.eps = cfg.norm_eps
        self.fused = cfg.kernels == "triton"
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x_BTD: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, _ = x_BTD.shape
        q_BTHK = self.wq(x_BTD).view(B, T, self.n_heads, self.head_dim)
        k_BTGK = self.wk(x_BTD).view(B, T, self.n_kv_heads, self.head_dim)
        v_BTGK = self.wv(x_BTD).view(B, T, self.n_kv_heads, self.head_dim)
        rope = rope_qk_norm if self.fused else rope_qk_norm_reference
        q_BTHK = rope(q_BTHK, cos, sin, self.eps)
        k_BTGK = rope(k_BTGK, cos, sin, self.eps)
        o_BHTK = F.scaled_dot_product_attention(
            q_BTHK.transpose(1, 2), k_BTGK.transpose(1, 2), v_BTGK.transpose(1, 2),
            is_causal=True, enable_gqa=self.n_heads != self.n_kv_heads,
        )
        return self.wo(o_BHTK.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)  # gate
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)  # up
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)  # down
        self.fused = cfg.kernels == "triton"

    def forward(self, x_BTD: torch.Tensor) -> torch.Tensor:
        act = swiglu if self.fused else swiglu_reference
        return self.w2(act(self.w1(x_BTD), self.w3(x_BTD)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        fused = cfg.kernels == "triton"
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps, fused)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps, fused)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x_BTD, cos, sin):
        x_BTD = x_BTD + self.attention(self.attention_norm(x_BTD), cos, sin)
        return x_BTD + self.feed_forward(self.ffn_norm(x_BTD))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps, cfg.kernels == "triton")
        cos, sin = rope_tables(cfg.max_seq_len, cfg.head_dim, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    @property
    def output_weight(self) -> torch.Tensor:
        """The LM head is the embedding matrix (tied)."""
        return self.tok_embeddings.weight

    def init_weights(self, seed: int | None = None) -> None:
        """Normal(0, init_std) for every matrix, ones for norms. With tied embeddings the output
        projections (wo, w2) are scaled by 1/sqrt(2·n_layers) as in GPT-2/OLMo so the residual
        stream's variance does not grow with depth."""
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        std = self.cfg.init_std
        for name, p in self.named_parameters():
            if p.dim() == 1:
                with torch.no_grad():
                    p.fill_(1.0)
                continue
            s = std / math.sqrt(2 * self.cfg.n_layers) if name.endswith(("wo.weight", "w2.weight")) else std
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * s)

    def hidden(self, tokens_BT: torch.Tensor) -> torch.Tensor:
        T = tokens_BT.shape[1]
        if T > self.rope_cos.shape[0]:
            raise ValueError(f"sequence length {T} exceeds model.max_seq_len {self.rope_cos.shape[0]}")
        x_BTD = self.tok_embeddings(tokens_BT)
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        for layer in self.layers:
            x_BTD = layer(x_BTD, cos, sin)
        return self.norm(x_BTD)

    def forward(self, tokens_BT: torch.Tensor, targets_BT: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, T, V] without targets; the mean cross-entropy over targets ≠ -100 with them."""
        h_BTD = self.hidden(tokens_BT)
        if targets_BT is None:
            return F.linear(h_BTD, self.output_weight)
        h_ND = h_BTD.reshape(-1, h_BTD.shape[-1])
        t_N = targets_BT.reshape(-1)
        if self.cfg.kernels == "triton":
            dtype = torch.get_autocast_dtype(h_ND.device.type) if torch.is_autocast_enabled(h_ND.device.type) else None
            return linear_cross_entropy(h_ND, self.output_weight, t_N, IGNORE_INDEX, None, dtype)
        return linear_cross_entropy_reference(h_ND, self.output_weight, t_N, IGNORE_INDEX)
