"""Two processes on CPU (torchrun, gloo): DDP and FSDP2 train the loss curve of one process with the
same global batch, only rank 0 writes, and checkpoints resume exactly (2 → 2 processes, FSDP2 → 1).

Tolerances. Both sides compute the same fp32 math on the same sequences; what may differ is the
order of additions: DDP all-reduces the two ranks' gradients where one process accumulates two
micro-batches, FSDP2 reduce-scatters them and sums the clipping norm shard by shard. Each such
reduction is off by about one ulp (6e-8 relative), and AdamW's first steps divide every gradient
element by its own magnitude, so rounding noise in near-zero elements becomes an update of up to
lr. Measured over these 4 steps: DDP vs 1 process 0 (two-term sums commute and halving is
exact), FSDP2 vs DDP and FSDP2 → 1-process resume at most 8e-8 relative. LOSS_RTOL = 1e-5
(1.2e-4 absolute at loss 11.7) leaves two orders of magnitude for other thread counts and torch
builds, and stays 15× below the smallest change between consecutive losses of this curve (1.9e-3),
so a step trained on other data or other weights shows. Same world size, same settings: the
continuation after a resume is bit-identical.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tokenmill_trainer import checkpoint as ckpt
from tokenmill_trainer.spec import JobSpec
from tokenmill_trainer.train import train

LOSS_RTOL = 1e-5
STEPS = 4
#: Per torchrun launch; one takes 10-45 s on 2 busy cores, a hang (mismatched collectives) lasts forever.
TIMEOUT_S = 120


def spec_for(datasets, plan, root: Path, *, grad_accum: int, parallel: str = "auto") -> dict:
    """The tiny job of test_train.py, global batch 2 = micro-batch 1 × grad_accum × processes."""
    return {
        "run_id": "run-test",
        "seed": 11,
        "model": {"recipe": "tiny", "max_seq_len": 64},
        "optimizer": {"lr": 2e-2, "weight_decay": 0.1, "grad_clip": 1.0},
        "schedule": {"warmup_steps": 1, "decay": "cosine", "min_lr_ratio": 0.1, "total_steps": STEPS},
        "batch": {"micro_batch_size": 1, "grad_accum": grad_accum},
        "data": {"plan": plan, "datasets": {k: {"uri": v["uri"]} for k, v in datasets.items()}},
        "checkpoint": {"dir": str(root / "ckpt"), "every_steps": 2, "keep": 0},
        "progress": {"every_steps": 1},
        "runtime": {"device": "cpu", "parallel": parallel},
        "max_steps": STEPS,
    }


def quiet():
    return io.StringIO()


def start_torchrun(spec: dict, root: Path, nproc: int = 2) -> subprocess.Popen:
    """The trainer CLI under torchrun. --standalone rendezvouses on localhost:0, a port the OS picks free."""
    root.mkdir(parents=True, exist_ok=True)
    job = root / "job.json"
    job.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "--log-dir", str(root / "torchrun"), "--redirects", "1",  # stdout per rank into files
           "-m", "tokenmill_trainer.train", "--spec", str(job)]
    # A session of its own: on a timeout the whole group goes (workers outlive a killed torchrun).
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_group(proc: subprocess.Popen) -> str:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate()[1]


def finish(proc: subprocess.Popen, spec: dict) -> Path:
    """Waits for torchrun to exit 0; returns the checkpoint dir (logs and progress are there too)."""
    try:
        _, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"torchrun did not finish in {TIMEOUT_S} s:\n{kill_group(proc)[-4000:]}")
    assert proc.returncode == 0, f"torchrun exited {proc.returncode}:\n{err[-4000:]}"
    return Path(spec["checkpoint"]["dir"])


def torchrun(spec: dict, root: Path, nproc: int = 2) -> Path:
    return finish(start_torchrun(spec, root, nproc), spec)


def rank_stdout(root: Path, local_rank: int) -> str:
    (path,) = (root / "torchrun").glob(f"*/attempt_0/{local_rank}/stdout.log")
    return path.read_text()


def events(ckpt_dir: Path, event: str) -> list[dict]:
    lines = [json.loads(x) for x in (ckpt_dir / "train.log.jsonl").read_text().splitlines()]
    return [x for x in lines if x["event"] == event]


def losses(ckpt_dir: Path) -> list[float]:
    return [x["loss"] for x in events(ckpt_dir, "step")]


def resume_from(step_dir: Path, spec: dict) -> dict:
    """A fresh checkpoint dir holding only `step_dir`; the spec pointed at it."""
    target = Path(spec["checkpoint"]["dir"])
    target.mkdir(parents=True)
    shutil.copytree(step_dir, target / step_dir.name)
    return spec


@pytest.fixture(scope="module")
def one_process(datasets, plan, tmp_path_factory) -> dict:
    """1 process, micro-batch 1 × grad_accum 2: global batch 2."""
    root = tmp_path_factory.mktemp("one-process")
    return train(JobSpec.from_dict(spec_for(datasets, plan, root, grad_accum=2)), stream=quiet())


@pytest.fixture(scope="module")
def ddp(datasets, plan, tmp_path_factory) -> tuple[Path, Path]:
    """2 processes (runtime.parallel auto → DDP), micro-batch 1 × grad_accum 1: global batch 2."""
    root = tmp_path_factory.mktemp("ddp")
    return root, torchrun(spec_for(datasets, plan, root, grad_accum=1), root)


def test_ddp_trains_the_single_process_curve_and_only_rank_0_writes(ddp, one_process, plan):
    root, ckpt_dir = ddp
    (start,) = events(ckpt_dir, "start")  # one writer: rank 1 would add a second line
    assert (start["world_size"], start["parallel"], start["global_batch"]) == (2, "ddp", 2)
    assert losses(ckpt_dir) == pytest.approx(one_process["losses"], rel=LOSS_RTOL, abs=0)
    assert len(losses(ckpt_dir)) == STEPS and losses(ckpt_dir)[-1] < losses(ckpt_dir)[0]

    (done,) = events(ckpt_dir, "done")
    assert done["tokens_consumed"] == one_process["tokens_consumed"]
    assert sum(done["tokens_consumed"].values()) == STEPS * 2 * plan["seq_len"]
    progress = [json.loads(x) for x in (ckpt_dir / "progress.jsonl").read_text().splitlines()]
    assert [p["step"] for p in progress] == [1, 2, 3, 4]
    assert progress[-1]["tokens_consumed"] == one_process["tokens_consumed"]
    assert [e["step"] for e in events(ckpt_dir, "checkpoint")] == [2, 4]
    assert sorted(p.name for p in ckpt_dir.iterdir() if p.is_dir()) == ["step-00000002", "step-00000004"]
    assert ckpt.read_state(ckpt_dir / "step-00000004")["position"] == STEPS * 2

    assert '"event": "done"' in rank_stdout(root, 0)
    assert rank_stdout(root, 1) == ""


def test_ddp_checkpoint_resumes_with_two_processes_identically(ddp, datasets, plan, tmp_path):
    _, straight = ddp
    spec = resume_from(straight / "step-00000002", spec_for(datasets, plan, tmp_path, grad_accum=1))
    resumed = torchrun(spec, tmp_path)
    (resume,) = events(resumed, "resume")
    assert (resume["step"], resume["position"]) == (2, 4)
    assert losses(resumed) == losses(straight)[2:]  # same world size and settings: bit-identical
    assert events(resumed, "done")[0]["tokens_consumed"] == events(straight, "done")[0]["tokens_consumed"]


def test_fsdp2_trains_the_ddp_curve_and_its_full_checkpoint_resumes_in_one_process(ddp, datasets, plan,
                                                                                   tmp_path):
    _, ddp_dir = ddp
    fsdp_dir = torchrun(spec_for(datasets, plan, tmp_path / "fsdp", grad_accum=1, parallel="fsdp"), tmp_path / "fsdp")
    (start,) = events(fsdp_dir, "start")
    assert (start["world_size"], start["parallel"]) == (2, "fsdp")
    assert losses(fsdp_dir) == pytest.approx(losses(ddp_dir), rel=LOSS_RTOL, abs=0)
    assert events(fsdp_dir, "done")[0]["tokens_consumed"] == events(ddp_dir, "done")[0]["tokens_consumed"]

    # A full (unsharded) state dict: plain tensors of the whole shapes, the same keys as DDP's.
    step2 = fsdp_dir / "step-00000002"
    model_sd = torch.load(step2 / "model.pt", weights_only=True)
    ddp_sd = torch.load(ddp_dir / "step-00000002" / "model.pt", weights_only=True)
    assert {k: (type(v), v.shape) for k, v in model_sd.items()} == {k: (type(v), v.shape) for k, v in ddp_sd.items()}
    optim = torch.load(step2 / "optimizer.pt", weights_only=False)["optimizer"]
    assert optim["state"]["tok_embeddings.weight"]["exp_avg"].shape == ddp_sd["tok_embeddings.weight"].shape

    spec = resume_from(step2, spec_for(datasets, plan, tmp_path / "one", grad_accum=2))
    rest = train(JobSpec.from_dict(spec), stream=quiet())
    assert rest["losses"] == pytest.approx(losses(fsdp_dir)[2:], rel=LOSS_RTOL, abs=0)
    assert rest["tokens_consumed"] == events(fsdp_dir, "done")[0]["tokens_consumed"]

    # Back into two FSDP2 ranks: only rank 0 reads the checkpoint and broadcasts it, each rank keeps
    # its shard; the continuation is the uninterrupted run's.
    spec = resume_from(step2, spec_for(datasets, plan, tmp_path / "fsdp-again", grad_accum=1, parallel="fsdp"))
    again = torchrun(spec, tmp_path / "fsdp-again")
    (resume,) = events(again, "resume")
    assert (resume["step"], resume["position"]) == (2, 4)
    assert losses(again) == losses(fsdp_dir)[2:]
    assert events(again, "done")[0]["tokens_consumed"] == events(fsdp_dir, "done")[0]["tokens_consumed"]


def worker_pid(torchrun_pid: int, local_rank: int) -> int:
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"PPid:\t{torchrun_pid}\n" not in status.read_text():
                continue
            environ = (status.parent / "environ").read_bytes().split(b"\0")
        except OSError:  # exited meanwhile
            continue
        if f"LOCAL_RANK={local_rank}".encode() in environ:
            return int(status.parent.name)
    raise AssertionError(f"no worker with LOCAL_RANK={local_rank} under torchrun {torchrun_pid}")


def test_sigterm_to_one_rank_stops_every_rank_after_the_same_step_with_a_checkpoint(datasets, plan, tmp_path):
    """A preemption signal reaches the ranks at different times (here only rank 1 gets it): all ranks
    must checkpoint the same step and exit 0, not leave rank 0 waiting in a collective."""
    spec = spec_for(datasets, plan, tmp_path, grad_accum=1)
    spec["schedule"]["total_steps"] = spec["max_steps"] = 40  # far more than can run before the signal lands
    spec["checkpoint"]["every_steps"] = 1000
    proc = start_torchrun(spec, tmp_path)
    try:
        log = tmp_path / "ckpt" / "train.log.jsonl"
        deadline = time.monotonic() + TIMEOUT_S
        while not (log.exists() and '"event": "step"' in log.read_text()):  # rank 0 logged step 1
            assert proc.poll() is None, f"torchrun exited {proc.returncode} before step 1"
            assert time.monotonic() < deadline, f"no step 1 in {TIMEOUT_S} s"
            time.sleep(0.05)
        # Step 1's all-reduce has rank 1's "not stopping", so the stop lands at step 2 or later.
        os.kill(worker_pid(proc.pid, 1), signal.SIGTERM)
        ckpt_dir = finish(proc, spec)
    finally:
        if proc.returncode is None:
            kill_group(proc)
    (preempted,) = events(ckpt_dir, "preempted")
    k = preempted["step"]
    assert 2 <= k < 40
    assert [e["step"] for e in events(ckpt_dir, "checkpoint")] == [k]
    assert [c.name for c in ckpt.list_checkpoints(ckpt_dir)] == [f"step-{k:08d}"]
    assert ckpt.read_state(ckpt_dir / f"step-{k:08d}")["position"] == 2 * k
    assert events(ckpt_dir, "done")[0]["step"] == k
