"""A tiny MobileLLM-R1 trains on CPU from real shards following a plan, and resumes exactly."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from tokenmill_trainer import checkpoint as ckpt
from tokenmill_trainer.spec import JobSpec
from tokenmill_trainer.train import main, train


def make_spec(datasets, plan, tmp_path, **over) -> dict:
    spec = {
        "run_id": "run-test",
        "seed": 11,
        "model": {"recipe": "tiny", "max_seq_len": 64},
        "optimizer": {"lr": 2e-2, "weight_decay": 0.1, "grad_clip": 1.0},
        "schedule": {"warmup_steps": 1, "decay": "cosine", "min_lr_ratio": 0.1},
        "batch": {"micro_batch_size": 1, "grad_accum": 2},
        "data": {"plan": plan, "datasets": {k: {"uri": v["uri"]} for k, v in datasets.items()}},
        "checkpoint": {"dir": str(tmp_path / "ckpt"), "every_steps": 2, "keep": 0},
        "progress": {"every_steps": 2},
        "runtime": {"device": "cpu"},
        "max_steps": 4,
    }
    for k, v in over.items():
        spec[k] = v
    return spec


def quiet():
    import io

    return io.StringIO()


def test_trains_and_resumes_with_the_identical_loss_curve(datasets, plan, tmp_path):
    straight = train(JobSpec.from_dict(make_spec(datasets, plan, tmp_path / "a")), stream=quiet())
    assert len(straight["losses"]) == 4
    assert straight["losses"][-1] < straight["losses"][0]

    first = train(JobSpec.from_dict(make_spec(datasets, plan, tmp_path / "b", max_steps=2)), stream=quiet())
    assert [c.name for c in ckpt.list_checkpoints(tmp_path / "b" / "ckpt")] == ["step-00000002"]
    log = quiet()
    rest = train(JobSpec.from_dict(make_spec(datasets, plan, tmp_path / "b", max_steps=4)), stream=log)
    assert '"event": "resume"' in log.getvalue()
    assert first["losses"] + rest["losses"] == straight["losses"]  # bit-identical on CPU
    assert rest["tokens_consumed"] == straight["tokens_consumed"]
    assert sum(rest["tokens_consumed"].values()) == 4 * 2 * plan["seq_len"]
    assert rest["position"] == straight["position"] == 8

    progress = [json.loads(x) for x in (tmp_path / "b" / "ckpt" / "progress.jsonl").read_text().splitlines()]
    assert [p["step"] for p in progress] == [2, 4]
    assert progress[-1]["tokens_consumed"] == straight["tokens_consumed"]


@pytest.fixture(scope="module")
def one_step(datasets, plan, tmp_path_factory):
    root = tmp_path_factory.mktemp("one-step")
    train(JobSpec.from_dict(make_spec(datasets, plan, root, max_steps=1)), stream=quiet())
    return root / "ckpt"


@pytest.mark.parametrize("change", ["plan", "model", "tokenizer"])
def test_refuses_to_resume_when_identity_changed(datasets, plan, tmp_path, change, one_step):
    shutil.copytree(one_step, tmp_path / "ckpt")
    spec = make_spec(datasets, plan, tmp_path)
    if change == "plan":
        spec["data"]["plan"] = dict(plan, fingerprint="something-else")
    elif change == "model":
        spec["model"] = {"recipe": "tiny", "max_seq_len": 64, "rope_theta": 10000.0}
    else:
        ds = copy.deepcopy(datasets)
        for k, v in ds.items():
            v["manifest"]["tokenizer"]["vocab_sha256"] = "0" * 64
            spec["data"]["datasets"][k] = {"uri": v["uri"], "manifest": v["manifest"]}
        spec["data"]["verify_sha256"] = False
    with pytest.raises(ValueError, match="refusing to resume"):
        train(JobSpec.from_dict(spec), stream=quiet())


def test_cli_rejects_a_bad_spec_naming_the_field(datasets, plan, tmp_path, capsys):
    spec = make_spec(datasets, plan, tmp_path)
    spec["optimizer"]["betas"] = [0.9, 1.5]
    path = tmp_path / "job.json"
    path.write_text(json.dumps(spec))
    assert main(["--spec", str(path)]) == 2
    assert "optimizer.betas" in capsys.readouterr().err


def test_default_interval_checkpoints_a_short_run_and_a_killed_one_resumes_identically(datasets, plan, tmp_path):
    # No every_steps: a share of the run's steps (here half of 4), so a short run checkpoints.
    spec = make_spec(datasets, plan, tmp_path / "a", checkpoint={"dir": str(tmp_path / "a" / "ckpt"), "keep": 0, "every_fraction": 0.5})
    straight = train(JobSpec.from_dict(spec), stream=quiet())
    assert [c.name for c in ckpt.list_checkpoints(tmp_path / "a" / "ckpt")] == ["step-00000002", "step-00000004"]
    # A run killed during step 3 finds step 2 and ends exactly as the uninterrupted one.
    shutil.rmtree(tmp_path / "a" / "ckpt" / "step-00000004")
    rest = train(JobSpec.from_dict(spec), stream=quiet())
    assert rest["losses"] == straight["losses"][2:]
    assert rest["tokens_consumed"] == straight["tokens_consumed"]


def test_checkpoint_defaults_and_wall_time_interval(datasets, plan, tmp_path):
    spec = make_spec(datasets, plan, tmp_path, checkpoint={"dir": str(tmp_path / "ckpt")})
    c = JobSpec.from_dict(spec).checkpoint
    assert (c.every_steps, c.every_fraction, c.every_s) == (None, 0.1, 600.0)
    assert c.interval(4) == 1 and c.interval(95) == 10 and c.interval(10_000) == 1000
    # every_s: a wall-time checkpoint at every step once the interval has passed, whatever every_steps says.
    spec["checkpoint"] = {"dir": str(tmp_path / "ckpt"), "every_steps": 1000, "every_s": 1e-9, "keep": 0}
    train(JobSpec.from_dict(spec), stream=quiet())
    assert len(ckpt.list_checkpoints(tmp_path / "ckpt")) == 4
    bad = make_spec(datasets, plan, tmp_path, checkpoint={"dir": "x", "every_fraction": 0})
    with pytest.raises(ValueError, match="checkpoint.every_fraction"):
        JobSpec.from_dict(bad)


def test_a_named_model_without_max_seq_len_follows_the_plan(datasets, plan):
    long_plan = dict(plan, seq_len=512)
    base = {"run_id": "r", "data": {"plan": long_plan, "datasets": {k: {"uri": v["uri"]} for k, v in datasets.items()}},
            "checkpoint": {"dir": "x"}}
    assert JobSpec.from_dict({**base, "model": {"recipe": "tiny"}}).model_config().max_seq_len == 512
    with pytest.raises(ValueError, match="data.plan.seq_len: 512 exceeds model.max_seq_len 256"):
        JobSpec.from_dict({**base, "model": {"recipe": "tiny", "max_seq_len": 256}})
