"""GPU benchmark: end-to-end training throughput and per-kernel timings (prints figures; no thresholds).

    python -m tokenmill_trainer.bench --sizes 140m 360m 950m --modes eager compile fused --out bench.json

End to end, per size and mode, on one GPU at seq 2048 with bf16 autocast and fused AdamW:
tokens/s (tokens per optimizer step ÷ step time), MFU (6N + 12·L·d·T FLOPs per token, against the
device's dense bf16 peak) and peak memory. Modes: `eager` = PyTorch reference ops (full logits),
`compile` = the reference under torch.compile, `fused` = our Triton kernels, `fused+compile`.
Per kernel (--kernels): forward+backward time of the Triton op vs the eager reference and vs
torch.compile of the reference, with achieved GB/s against the device's HBM bandwidth (the
elementwise and norm ops are memory-bound) and TFLOP/s for the LM head + cross-entropy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from .config import RECIPES, flops_per_token, num_params
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
from .model import Transformer
from .train import PEAK_BF16, peak_flops

HBM_BYTES_PER_S = {"H100 PCIe": 2.0e12, "H100": 3.35e12, "H200": 4.8e12, "A100": 2.0e12}


def hbm_bandwidth() -> float | None:
    name = torch.cuda.get_device_name()
    for k, v in HBM_BYTES_PER_S.items():
        if k in name:
            return v
    return None


def bench_model(size: str, mode: str, seq_len: int, micro_batch: int, steps: int, warmup: int) -> dict:
    cfg = RECIPES[f"mobilellm-r1-{size}"](kernels="triton" if mode.startswith("fused") else "reference",
                                          max_seq_len=seq_len)
    dev = torch.device("cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = Transformer(cfg).to(dev)
    model.init_weights(0)
    if "compile" in mode:
        model.compile()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randint(0, cfg.vocab_size, (micro_batch, seq_len + 1), device=dev, generator=g)
    inputs, targets = x[:, :-1], x[:, 1:]
    row = {"size": size, "mode": mode, "seq_len": seq_len, "micro_batch": micro_batch, "params": num_params(cfg)}
    try:
        times = []
        for i in range(warmup + steps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(inputs, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        times.sort()
        step_s = times[len(times) // 2]
        tps = micro_batch * seq_len / step_s
        peak = peak_flops(dev)
        row.update(step_ms=round(step_s * 1e3, 2), tokens_per_s=round(tps), loss=float(loss),
                   mfu=round(flops_per_token(cfg, seq_len) * tps / peak, 4) if peak else None,
                   peak_mem_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2))
    except torch.cuda.OutOfMemoryError:
        row.update(error="OOM")
    del model, opt
    return row


def _time(fn, reps: int = 50) -> float:
    from triton.testing import do_bench

    return do_bench(fn, rep=reps) / 1e3


def bench_kernels(size: str, tokens: int) -> list[dict]:
    cfg = RECIPES[f"mobilellm-r1-{size}"]()
    dev, bf = "cuda", torch.bfloat16
    bw = hbm_bandwidth()
    rows = []

    def case(name, fused, ref, inputs, bytes_moved=None, flops=None):
        leaves = [t.detach().requires_grad_(t.is_floating_point()) for t in inputs]

        def fwd_bwd(f):
            def go():
                out = f(*leaves)
                out.backward(torch.ones_like(out) if out.dim() else None)
            return go

        compiled = torch.compile(ref)
        r = {"kernel": name, "size": size, "tokens": tokens}
        for label, f in (("fused", fused), ("eager", ref), ("compile", compiled)):
            try:
                r[f"{label}_ms"] = round(_time(fwd_bwd(f)) * 1e3, 3)
            except Exception as e:  # a compile failure must not hide the other figures
                r[f"{label}_ms"] = None
                r[f"{label}_error"] = str(e)[:200]
        if bytes_moved and bw and r["fused_ms"]:
            r["fused_gb_s"] = round(bytes_moved / (r["fused_ms"] / 1e3) / 1e9, 1)
            r["hbm_fraction"] = round(bytes_moved / (r["fused_ms"] / 1e3) / bw, 3)
        if flops and r["fused_ms"]:
            r["fused_tflop_s"] = round(flops / (r["fused_ms"] / 1e3) / 1e12, 1)
            r["peak_fraction"] = round(flops / (r["fused_ms"] / 1e3) / PEAK_BF16["H100"], 3)
        rows.append(r)

    T = 2048
    B = max(1, tokens // T)
    d, f, hd = cfg.dim, cfg.ffn_dim, cfg.head_dim
    x = torch.randn(B, T, d, device=dev, dtype=bf)
    w = torch.ones(d, device=dev)
    # fwd reads x, writes y; bwd reads x, dy, writes dx (bf16) — weight traffic is negligible
    case("rms_norm", lambda x, w: rms_norm(x, w, 1e-5), lambda x, w: rms_norm_reference(x, w, 1e-5), [x, w],
         bytes_moved=5 * x.numel() * 2)
    a, b = torch.randn(B, T, f, device=dev, dtype=bf), torch.randn(B, T, f, device=dev, dtype=bf)
    case("swiglu", swiglu, swiglu_reference, [a, b], bytes_moved=8 * a.numel() * 2)
    cos, sin = rope_tables(T, hd, 1e6, device=dev)
    q = torch.randn(B, T, cfg.n_heads, hd, device=dev, dtype=bf)
    case("rope_qk_norm", lambda q: rope_qk_norm(q, cos, sin, 1e-5), lambda q: rope_qk_norm_reference(q, cos, sin, 1e-5),
         [q], bytes_moved=5 * q.numel() * 2)
    h = torch.randn(B * T, d, device=dev, dtype=bf)
    W = torch.randn(cfg.vocab_size, d, device=dev) * 0.02
    t = torch.randint(0, cfg.vocab_size, (B * T,), device=dev)
    with torch.autocast("cuda", dtype=bf):
        case("linear_cross_entropy", lambda h, W: linear_cross_entropy(h, W, t, compute_dtype=bf),
             lambda h, W: linear_cross_entropy_reference(h, W, t), [h, W], flops=6 * B * T * d * cfg.vocab_size)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenmill_trainer.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["140m", "360m", "950m"])
    ap.add_argument("--modes", nargs="+", default=["eager", "compile", "fused", "fused+compile"])
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--micro-batch", type=int, nargs="+", default=None,
                    help="per size (default 16 for 140m/360m, 8 for 950m)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--kernels", action="store_true", help="also time each kernel against its reference")
    ap.add_argument("--kernel-tokens", type=int, default=16 * 2048)
    ap.add_argument("--out", default=None, help="write all rows as JSON here")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("tokenmill-bench: needs a CUDA GPU", file=sys.stderr)
        return 2
    default_mb = {"140m": 16, "360m": 16, "950m": 8}
    device = {"name": torch.cuda.get_device_name(), "torch": torch.__version__,
              "triton": __import__("triton").__version__}
    rows = []
    for i, size in enumerate(args.sizes):
        mb = args.micro_batch[min(i, len(args.micro_batch) - 1)] if args.micro_batch else default_mb.get(size, 8)
        for mode in args.modes:
            row = bench_model(size, mode, args.seq_len, mb, args.steps, args.warmup)
            print(json.dumps(row), flush=True)
            rows.append(row)
    kernel_rows = []
    if args.kernels:
        for size in args.sizes:
            for r in bench_kernels(size, args.kernel_tokens):
                print(json.dumps(r), flush=True)
                kernel_rows.append(r)
    print("\n| size | mode | micro-batch | tok/s | MFU | peak mem GiB | step ms |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['mode']} | {r['micro_batch']} | {r.get('tokens_per_s', r.get('error'))} | "
              f"{r.get('mfu')} | {r.get('peak_mem_gib')} | {r.get('step_ms')} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": device, "date": time.strftime("%Y-%m-%d"), "models": rows, "kernels": kernel_rows}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
