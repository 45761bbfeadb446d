"""Run lm-eval tasks on an exported (Hugging Face format) checkpoint.

    python -m tokenmill_trainer.eval --model OUT_DIR --tasks tokenmill_gsm8k --limit 50 --out results.json

Needs the `eval` extra (lm-eval) and a tokenizer in the export folder (export --tokenizer) or
given with --tokenizer. Runs offline: the tasks shipped in eval_tasks/ (`tokenmill_gsm8k`,
`tokenmill_humaneval_bpb`) read the JSONL sets of data/eval (or --data-dir); more task YAMLs can
be added with --include-path. lm-eval's own tasks fetch their data from the Hugging Face hub.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent / "eval_tasks"
# The repository's data/eval when the trainer runs from a checkout (workers/trainer, editable).
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "eval"


def shipped_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def task_spec(name: str, data_dir: Path) -> str | dict:
    """A shipped task as a config dict with its data files made absolute; any other name as is."""
    path = TASKS_DIR / f"{name}.yaml"
    if not path.exists():
        return name
    import yaml

    cfg = yaml.safe_load(path.read_text())
    files = cfg["dataset_kwargs"]["data_files"]
    for split, file in files.items():
        files[split] = str(data_dir / file)
        if not (data_dir / file).exists():
            raise ValueError(f"task {name}: {data_dir / file} not found (set --data-dir)")
    return cfg


def evaluate(model_dir: str, tasks: list[str], *, tokenizer: str | None = None, num_fewshot: int | None = None,
             batch_size: int = 8, device: str | None = None, dtype: str = "bfloat16", limit: float | None = None,
             max_gen_toks: int | None = None, data_dir: str | Path | None = None,
             include_path: list[str] | None = None) -> dict:
    # Task data is local; without these lm-eval and datasets still ask the hub and wait on timeouts.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise ValueError("lm-eval is not installed: pip install 'tokenmill-trainer[eval]'") from None
    import torch

    data = Path(data_dir) if data_dir else DEFAULT_DATA_DIR
    specs = [task_spec(t, data) for t in tasks]
    # Indexing lm-eval's own ~14k task YAMLs takes ~30 s: only when a task outside ours is asked for.
    manager = TaskManager(include_path=[str(TASKS_DIR), *(include_path or [])],
                          include_defaults=any(isinstance(s, str) for s in specs))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_args = f"pretrained={model_dir},dtype={dtype}" + (f",tokenizer={tokenizer}" if tokenizer else "")
    results = lm_eval.simple_evaluate(model="hf", model_args=model_args, tasks=specs, num_fewshot=num_fewshot,
                                      batch_size=batch_size, device=device, limit=limit, task_manager=manager,
                                      gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None,
                                      log_samples=False)
    return {"model": model_dir, "tasks": tasks, "results": results["results"],
            "versions": results.get("versions"), "n_shot": results.get("n-shot"),
            "n_samples": results.get("n-samples")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenmill_trainer.eval", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="folder written by tokenmill_trainer.export")
    ap.add_argument("--tasks", nargs="+", required=True,
                    help=f"lm-eval task names; shipped, offline: {', '.join(shipped_tasks())}")
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--num-fewshot", type=int, default=None, help="default: the task's own (tokenmill_gsm8k: 8)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--limit", type=float, default=None, help="examples per task (a number or a fraction)")
    ap.add_argument("--max-gen-toks", type=int, default=None,
                    help="cap on generated tokens per example (default: lm-eval's, 256)")
    ap.add_argument("--data-dir", default=None, help=f"folder of the eval JSONL sets (default: {DEFAULT_DATA_DIR})")
    ap.add_argument("--include-path", nargs="*", default=None, help="more folders of lm-eval task YAMLs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    limit = int(args.limit) if args.limit is not None and args.limit >= 1 else args.limit
    try:
        summary = evaluate(args.model, args.tasks, tokenizer=args.tokenizer, num_fewshot=args.num_fewshot,
                           batch_size=args.batch_size, device=args.device, dtype=args.dtype, limit=limit,
                           max_gen_toks=args.max_gen_toks, data_dir=args.data_dir, include_path=args.include_path)
    except ValueError as e:
        print(f"tokenmill-eval: {e}", file=sys.stderr)
        return 2
    text = json.dumps(summary, indent=1, default=str)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
