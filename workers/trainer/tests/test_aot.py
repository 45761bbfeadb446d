"""Ahead-of-time compilation writes cubins for a GPU target on a machine without a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_compiles_kernels_for_sm90_without_a_gpu(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    code = ("import torch; from tokenmill_trainer.aot import compile_only, compile_ops\n"
            "s = dict(name='t', dim=64, ffn=96, heads=4, kv_heads=2, head_dim=16, vocab=300)\n"
            "with compile_only(90):\n    compile_ops(s, torch.float32)\n")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    cubins = sorted(p.name for p in tmp_path.rglob("*.cubin"))
    assert cubins == sorted(["_ce_grad_kernel.cubin", "_rms_norm_bwd_kernel.cubin", "_rms_norm_fwd_kernel.cubin",
                             "_rope_qk_norm_kernel.cubin", "_rope_qk_norm_kernel.cubin", "_swiglu_bwd_kernel.cubin",
                             "_swiglu_fwd_kernel.cubin"])
    targets = {json.loads(p.read_text())["target"]["arch"] for p in tmp_path.rglob("*.json")
               if not p.name.startswith("__grp__")}
    assert targets == {90}
