"""Ahead-of-time compilation of the Triton kernels into Triton's cache, without a GPU.

    TRITON_CACHE_DIR=/opt/tokenmill/triton-cache python -m tokenmill_trainer.aot --arch 80 90

The image build runs this so a job starts without JIT compilation. Triton's JIT looks a kernel up
in its file cache by a hash of (kernel source, triton version, target, options, argument
specialization: dtypes, pointer alignment, int == 1 / divisible by 16, constexprs). To produce the
same hash as the run will, we drive the real host code of every op (same constexprs, dtypes,
options) with a stand-in driver that reports the chosen GPU target, and with launches replaced by
`warmup` (compile only). Ints that vary with the batch (row counts, sequence length) are
`do_not_specialize` in the kernels, so the entries do not depend on batch size; pointer alignment
is 16 bytes for every PyTorch allocation. Kernels are compiled for fp32 and bf16 inputs and for the
hidden, FFN, head and vocabulary sizes of every recipe. Anything not covered still JIT-compiles at
run time (a few seconds), it does not fail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import torch


class _StandInDriver:
    """Enough of triton's driver interface for compile-only launches for one CUDA target."""

    def __init__(self, arch: int):
        from triton.backends.compiler import GPUTarget

        self.arch = arch
        self.target = GPUTarget("cuda", arch, 32)

    def get_current_target(self):
        return self.target

    def get_current_device(self):
        return self.arch  # one JIT device cache per target

    def get_current_stream(self, device=None):
        return 0

    def get_active_torch_device(self):
        return torch.device("cpu")

    def __getattr__(self, name):
        raise RuntimeError(f"tokenmill aot: the stand-in driver has no {name}(); a kernel tried to launch")


@contextlib.contextmanager
def compile_only(arch: int):
    from triton.runtime import driver
    from triton.runtime.jit import JITFunction

    original = JITFunction.run
    previous = getattr(driver, "_active", None)  # no GPU here: there may be no real driver to go back to

    def run(self, *args, grid, warmup, **kwargs):
        return original(self, *args, grid=grid, warmup=True, **kwargs)

    driver.set_active(_StandInDriver(arch))
    JITFunction.run = run
    try:
        yield
    finally:
        JITFunction.run = original
        driver._active = previous


def shapes(recipes: list[str]) -> list[dict]:
    from .config import RECIPES

    out = []
    for name in recipes:
        c = RECIPES[name]()
        out.append({"name": name, "dim": c.dim, "ffn": c.ffn_dim, "heads": c.n_heads, "kv_heads": c.n_kv_heads,
                    "head_dim": c.head_dim, "vocab": c.vocab_size})
    return out


def compile_ops(s: dict, dtype: torch.dtype) -> None:
    """Runs every op's forward and backward host code once (launches are compile-only)."""
    from .kernels import linear_cross_entropy, rms_norm, rope_qk_norm, rope_tables, swiglu

    rows, T = 32, 16
    x = torch.zeros(2, T, s["dim"], dtype=dtype, requires_grad=True)
    w = torch.ones(s["dim"], dtype=torch.float32, requires_grad=True)
    rms_norm(x, w, 1e-5).backward(torch.zeros(2, T, s["dim"], dtype=dtype))
    a = torch.zeros(rows, s["ffn"], dtype=dtype) + torch.zeros(1, dtype=dtype, requires_grad=True)
    b = torch.zeros(rows, s["ffn"], dtype=dtype) + torch.zeros(1, dtype=dtype, requires_grad=True)
    swiglu(a, b).backward(torch.zeros(rows, s["ffn"], dtype=dtype))
    cos, sin = rope_tables(T, s["head_dim"], 1e6)
    for h in sorted({s["heads"], s["kv_heads"]}):
        q = torch.zeros(2, T, h, s["head_dim"], dtype=dtype, requires_grad=True)
        rope_qk_norm(q, cos, sin, 1e-5).backward(torch.zeros_like(q))
    hh = torch.zeros(4, s["dim"], dtype=dtype, requires_grad=True)
    ww = torch.zeros(s["vocab"], s["dim"], dtype=torch.float32, requires_grad=True)
    linear_cross_entropy(hh, ww, torch.zeros(4, dtype=torch.long), compute_dtype=dtype).backward()


def precompile(archs: list[int], recipes: list[str]) -> dict:
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise ValueError("unset TRITON_INTERPRET: the interpreter compiles nothing")
    done = []
    for arch in archs:
        for s in shapes(recipes):
            for dtype in (torch.float32, torch.bfloat16):
                t0 = time.perf_counter()
                with compile_only(arch):
                    compile_ops(s, dtype)
                done.append({"arch": f"sm_{arch}", "recipe": s["name"], "dtype": str(dtype).removeprefix("torch."),
                             "seconds": round(time.perf_counter() - t0, 1)})
                print(json.dumps({"event": "aot_compiled", **done[-1]}), flush=True)
    return {"cache_dir": os.environ.get("TRITON_CACHE_DIR"), "compiled": done}


def main(argv: list[str] | None = None) -> int:
    from .config import RECIPES

    ap = argparse.ArgumentParser(prog="python -m tokenmill_trainer.aot", description=__doc__.splitlines()[0])
    ap.add_argument("--arch", type=int, nargs="+", default=[80, 90], help="CUDA compute capabilities (default 80 90)")
    ap.add_argument("--recipes", nargs="+", default=[r for r in RECIPES if r.startswith("mobilellm")])
    args = ap.parse_args(argv)
    try:
        summary = precompile(args.arch, args.recipes)
    except ValueError as e:
        print(f"tokenmill-aot: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"event": "aot_done", "cache_dir": summary["cache_dir"], "kernels": len(summary["compiled"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
