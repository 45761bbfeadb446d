"""The train loop: `python -m tokenmill_trainer.train --spec job.json` (torchrun for several GPUs).

bf16 autocast on GPU, fp32 on CPU; AdamW with decoupled weight decay on matrices only; warmup then
linear/cosine decay; global-norm clipping; gradient accumulation (each micro-batch's mean loss is
divided by grad_accum: every sequence has exactly seq_len targets, so that is the exact mean over
the global batch); DDP or FSDP2 across processes; optional torch.compile. Checkpoints and resumes
exactly (checkpoint.py), reports progress (progress.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from . import checkpoint as ckpt
from .config import ModelConfig, flops_per_token, num_params
from .data import BatchLoader, ShardStore, load_manifest
from .model import Transformer
from .progress import JsonLogger, ProgressReporter
from .schedule import lr_at
from .spec import JobSpec

# Dense bf16 peak FLOP/s (vendor datasheets) for MFU; unknown devices report mfu null.
PEAK_BF16 = {"H100 PCIe": 756e12, "H100": 989.4e12, "H200": 989.4e12, "A100": 312e12, "L40S": 362e12}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16.items():  # "H100 PCIe" before "H100"
        if key in name:
            return value
    return None


def init_distributed(device_type: str) -> tuple[int, int, int]:
    """RANK, WORLD_SIZE, LOCAL_RANK as torchrun sets them; joins the process group when WORLD_SIZE > 1.

    The backend follows the device the tensors live on, not whether CUDA exists: nccl for cuda,
    gloo for cpu (a CPU run on a GPU machine would otherwise get nccl and fail on CPU tensors).
    """
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not dist.is_initialized():
        if device_type == "cuda":
            # Binding the device up front keeps barriers and NCCL communicators on this rank's GPU.
            dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
        else:
            dist.init_process_group("gloo")
    return rank, world, local_rank


def build_optimizer(model: torch.nn.Module, spec: JobSpec, device: torch.device) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]  # norm weights (HF Trainer does the same)
    o = spec.optimizer
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=o.lr, betas=tuple(o.betas), eps=o.eps, fused=device.type == "cuda")


def _state_dicts(model, optimizer, distributed: bool):
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    opts = StateDictOptions(full_state_dict=True, cpu_offload=distributed)
    return get_state_dict(model, optimizer, options=opts)


def _load_state_dicts(model, optimizer, model_sd, optim_sd, from_rank0: bool) -> None:
    """Loads full state dicts into the (wrapped or sharded) model and its optimizer.

    from_rank0: only rank 0 read the checkpoint (the others pass empty dicts); it broadcasts every
    tensor and each rank keeps what it holds (its shard under FSDP2), so N ranks of a node do not
    each read and hold the whole checkpoint (about 11 GB of host memory per rank for the 950M model).
    Two calls, not set_state_dict: that one takes an empty model dict for "optimizer only" and would
    skip the model's broadcast on the ranks that are not 0.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

    opts = StateDictOptions(full_state_dict=True, broadcast_from_rank0=from_rank0)
    set_model_state_dict(model, model_sd, options=opts)
    set_optimizer_state_dict(model, optimizer, optim_sd, options=opts)


def train(spec: JobSpec, stream=None) -> dict[str, Any]:
    rt = spec.runtime
    use_cuda = rt.device == "cuda" or (rt.device == "auto" and torch.cuda.is_available())
    rank, world, local_rank = init_distributed("cuda" if use_cuda else "cpu")
    if use_cuda:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    kernels = rt.kernels if rt.kernels != "auto" else ("triton" if device.type == "cuda" else "reference")
    bf16 = rt.precision == "bf16" or (rt.precision == "auto" and device.type == "cuda")
    cfg: ModelConfig = spec.model_config(kernels)

    out_dir = Path(spec.output_dir or spec.checkpoint.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    logger = JsonLogger(out_dir / "train.log.jsonl" if rank == 0 else None,
                        stream=stream if rank == 0 else open(os.devnull, "w"), run_id=spec.run_id)  # noqa: SIM115

    # -- data ------------------------------------------------------------------------------------
    from .sampler import Sampler

    plan = spec.data.plan
    manifests = {k: loc.manifest or load_manifest(loc.uri) for k, loc in spec.data.datasets.items() if k in plan["datasets"]}
    tokenizers = {m["tokenizer"]["vocab_sha256"] for m in manifests.values()}
    if len(tokenizers) != 1:
        raise ValueError(f"data.datasets: manifests name {len(tokenizers)} different tokenizer vocabularies")
    tok = next(iter(manifests.values()))["tokenizer"]
    if tok["vocab_size"] > cfg.vocab_size:
        raise ValueError(f"model.vocab_size {cfg.vocab_size} is smaller than the tokenizer's {tok['vocab_size']}")
    store = ShardStore({k: spec.data.datasets[k].uri for k in manifests}, manifests,
                       spec.data.cache_dir or out_dir / "shard-cache", spec.data.verify_sha256)
    sampler = Sampler(plan, manifests, store.doc_tokens)
    seq_len = int(plan["seq_len"])
    loader = BatchLoader(sampler, store, seq_len=seq_len, eos_id=int(tok["eos_id"]),
                         micro_batch_size=spec.batch.micro_batch_size, grad_accum=spec.batch.grad_accum,
                         rank=rank, world_size=world)
    G = loader.global_batch
    total_steps = spec.schedule.total_steps or sampler.num_sequences() // G
    if total_steps > sampler.num_sequences() // G:
        raise ValueError(f"schedule.total_steps {total_steps} needs {total_steps * G} sequences; "
                         f"the plan has {sampler.num_sequences()}")

    # -- model, optimizer, resume -----------------------------------------------------------------
    torch.manual_seed(spec.seed)
    model = Transformer(cfg)
    model.init_weights(spec.seed)
    model.to(device)
    ident = ckpt.identities(plan, manifests, cfg.identity())
    found = ckpt.list_checkpoints(spec.checkpoint.dir)
    if found and spec.checkpoint.resume == "never":
        raise ValueError(f"checkpoint.resume is 'never' but {found[-1]} exists")
    if not found and spec.checkpoint.resume == "required":
        raise ValueError(f"checkpoint.resume is 'required' but {spec.checkpoint.dir} has no checkpoint")
    state: dict[str, Any] = {"step": 0, "position": 0, "tokens_consumed": {}}
    loaded = None
    if found:
        saved = ckpt.read_state(found[-1])
        ckpt.check_identity(saved["identity"], ident, found[-1])
        if rank == 0:
            model_sd, optim_sd, state = ckpt.load(found[-1])
        else:  # rank 0 sends the tensors (_load_state_dicts) and its random state
            model_sd, optim_sd, state = {}, {}, saved
        if world > 1:
            box = [ckpt.rng_state() if rank == 0 else None]
            dist.broadcast_object_list(box, src=0)
            if rank != 0:
                ckpt.set_rng_state(box[0])
        loaded = (model_sd, optim_sd)
        logger.log("resume", checkpoint=str(found[-1]), step=state["step"], position=state["position"])

    parallel = rt.parallel if rt.parallel != "auto" else ("ddp" if world > 1 else "none")
    if parallel != "none" and world == 1:
        warnings.warn(f"runtime.parallel {parallel!r} ignored: one process (start several with tokenmill_trainer.launch)",
                      stacklevel=2)
        parallel = "none"
    if parallel == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if bf16 else torch.float32, reduce_dtype=torch.float32)
        for layer in model.layers:
            fully_shard(layer, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
    if rt.compile:
        model.compile()
    train_model: torch.nn.Module = model
    if parallel == "ddp" and world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    optimizer = build_optimizer(model, spec, device)
    if loaded:
        _load_state_dicts(model, optimizer, loaded[0], loaded[1], from_rank0=world > 1)

    # -- progress -----------------------------------------------------------------------------------
    reporter = None
    if rank == 0:
        token = os.environ.get("TOKENMILL_RUN_TOKEN") or spec.progress.token
        reporter = ProgressReporter(out_dir / "progress.jsonl", spec.run_id, spec.progress.endpoint, token,
                                    spec.progress.timeout_s, logger=logger)
    start_step, position = int(state["step"]), int(state["position"])
    consumed: dict[str, int] = dict(state["tokens_consumed"])
    end_step = min(total_steps, spec.max_steps) if spec.max_steps else total_steps
    fpt = flops_per_token(cfg, seq_len)
    peak = peak_flops(device)
    logger.log("start", model=cfg.name, params=num_params(cfg), device=str(device), world_size=world,
               kernels=kernels, bf16=bf16, parallel=parallel, global_batch=G, seq_len=seq_len,
               total_steps=total_steps, start_step=start_step, end_step=end_step)

    stop = {"signal": None}

    def on_term(signum, _frame):  # preemption: finish the step, checkpoint, exit
        stop["signal"] = signum

    if threading_main():
        signal.signal(signal.SIGTERM, on_term)

    def save(step: int) -> None:
        model_sd, optim_sd = _state_dicts(model, optimizer, world > 1)
        if rank == 0:
            path = ckpt.save(spec.checkpoint.dir, step, model_sd, optim_sd,
                             {"position": position, "tokens_consumed": consumed, "identity": ident,
                              "run_id": spec.run_id, "global_batch": G}, keep=spec.checkpoint.keep)
            logger.log("checkpoint", step=step, path=str(path))
        if world > 1:
            dist.barrier()

    losses: list[float] = []
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    interval_t, interval_tokens = time.perf_counter(), 0
    ckpt_every = spec.checkpoint.interval(end_step)
    last_ckpt_t = time.monotonic()
    step = start_step
    train_model.train()
    for sb in loader.iterate(start_step, position, end_step):
        lr = lr_at(step, peak=spec.optimizer.lr, warmup_steps=spec.schedule.warmup_steps, total_steps=total_steps,
                   decay=spec.schedule.decay, min_lr_ratio=spec.schedule.min_lr_ratio)
        for g in optimizer.param_groups:
            g["lr"] = lr
        loss_sum = torch.zeros((), device=device)
        for m, b in enumerate(sb.micro):
            sync = m == len(sb.micro) - 1
            ctx = train_model.no_sync() if (isinstance(train_model, torch.nn.parallel.DistributedDataParallel)
                                            and not sync) else contextlib.nullcontext()
            if parallel == "fsdp":
                model.set_requires_gradient_sync(sync)
            with ctx:
                with autocast:
                    loss = train_model(b.inputs.to(device, non_blocking=True), b.targets.to(device, non_blocking=True))
                (loss / spec.batch.grad_accum).backward()
            loss_sum += loss.detach() / spec.batch.grad_accum
        grad_norm = None
        if spec.optimizer.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), spec.optimizer.grad_clip)
            grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # DTensor under FSDP
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        stopping = stop["signal"] is not None
        # Wall-time checkpoints: rank 0's clock decides, so every rank saves at the same step.
        time_due = rank == 0 and spec.checkpoint.every_s > 0 and time.monotonic() - last_ckpt_t >= spec.checkpoint.every_s
        if world > 1:
            # One collective for the loss and the flags: a SIGTERM reaches the ranks at different
            # steps, and every rank must take the same step's checkpoint (a collective) and stop there.
            # Summed (the flags need SUM) and divided by world: the mean over the global batch.
            packed = torch.stack([loss_sum, torch.tensor(float(stopping), device=device),
                                  torch.tensor(float(time_due), device=device)])
            dist.all_reduce(packed, op=dist.ReduceOp.SUM)
            loss_sum, stopping, time_due = packed[0] / world, bool(packed[1] > 0), bool(packed[2] > 0)
        step += 1
        position += G
        for s, n in sb.tokens_by_source.items():
            consumed[s] = consumed.get(s, 0) + n
        loss_value = float(loss_sum)
        losses.append(loss_value)
        interval_tokens += G * seq_len
        if step % spec.progress.every_steps == 0 or step == end_step:
            if device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            tps = interval_tokens / max(now - interval_t, 1e-9)
            interval_t, interval_tokens = now, 0
            mfu = fpt * tps / (peak * world) if peak else None
            logger.log("step", step=step, loss=loss_value, lr=lr, grad_norm=grad_norm, tokens_per_s=round(tps, 1),
                       mfu=mfu, tokens_consumed=consumed,
                       peak_mem_gb=torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None)
            if reporter:
                reporter.report(step, consumed, loss_value, lr, tps, mfu)
        if step % ckpt_every == 0 or step == end_step or stopping or time_due:
            save(step)
            last_ckpt_t = time.monotonic()
        if stopping:
            logger.log("preempted", step=step, signal=stop["signal"])
            break
    if reporter:
        delivered = reporter.close()
        logger.log("done", step=step, progress_delivered=delivered, tokens_consumed=consumed)
    if world > 1:
        dist.destroy_process_group()
    return {"losses": losses, "step": step, "position": position, "tokens_consumed": consumed}


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenmill_trainer.train", description=__doc__.splitlines()[0])
    ap.add_argument("--spec", required=True, help="training job spec (JSON, contract 5)")
    args = ap.parse_args(argv)
    try:
        spec = JobSpec.from_json(args.spec)
    except ValueError as e:
        print(f"tokenmill-trainer: invalid job spec: {e}", file=sys.stderr)
        return 2
    train(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
