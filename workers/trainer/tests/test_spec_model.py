"""Model shapes and parameter counts, the fused model against the reference model, spec validation."""

from __future__ import annotations

import pytest
import torch

from tokenmill_trainer.config import micro, mobilellm_r1_140m, mobilellm_r1_360m, mobilellm_r1_950m, num_params
from tokenmill_trainer.model import Transformer
from tokenmill_trainer.schedule import lr_at
from tokenmill_trainer.spec import JobSpec


@pytest.mark.parametrize("make,paper", [(mobilellm_r1_140m, 140_248_512), (mobilellm_r1_360m, 359_431_168),
                                        (mobilellm_r1_950m, 949_685_760)])
def test_parameter_counts_equal_the_papers(make, paper):
    cfg = make()
    assert num_params(cfg) == paper
    with torch.device("meta"):
        model = Transformer(cfg)
    assert sum(p.numel() for p in model.parameters()) == paper


def test_fused_model_matches_reference_model():
    ref = Transformer(micro())
    ref.init_weights(0)
    fused = Transformer(micro(kernels="triton"))
    fused.load_state_dict(ref.state_dict())
    tokens = torch.randint(0, 257, (2, 24), generator=torch.Generator().manual_seed(1))
    targets = tokens.roll(-1, 1)
    targets[:, -1] = -100
    lr, lf = ref(tokens, targets), fused(tokens, targets)
    lr.backward()
    lf.backward()
    torch.testing.assert_close(lf, lr, rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(ref.named_parameters(), fused.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_schedule_warms_up_then_decays_to_the_floor():
    kw = dict(peak=1.0, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
    assert lr_at(0, **kw) == pytest.approx(0.1) and lr_at(9, **kw) == 1.0
    for decay in ("linear", "cosine"):
        assert lr_at(10, decay=decay, **kw) == 1.0
        assert lr_at(109, decay=decay, **kw) == pytest.approx(0.1)
    assert lr_at(60, decay="linear", **kw) == pytest.approx(1 - 0.9 * 50 / 99)


BASE = {"run_id": "r", "model": {"recipe": "tiny"}, "checkpoint": {"dir": "/tmp/x"},
        "data": {"plan": {"plan_version": 1, "seed": 1, "seq_len": 32, "sequences": 1, "phases": [],
                          "datasets": {"web": {}}, "fingerprint": "f"}, "datasets": {"web": {"uri": "/d"}}}}


@pytest.mark.parametrize("path,value,field", [
    (("optimizer", "lr"), -1, "optimizer.lr"),
    (("batch", "grad_accum"), 0, "batch.grad_accum"),
    (("schedule", "decay"), "step", "schedule.decay"),
    (("runtime", "device"), "tpu", "runtime.device"),
    (("progress", "endpoint"), "ftp://x", "progress.endpoint"),
    (("model", "recipe"), "gpt5", "model.recipe"),
    (("model", "n_heads"), 5, "model.n_heads"),
    (("checkpoint", "resume"), "maybe", "checkpoint.resume"),
    (("optimizer", "momentum"), 0.9, "optimizer: unknown field"),
])
def test_spec_errors_name_the_field(path, value, field):
    import copy

    d = copy.deepcopy(BASE)
    d.setdefault(path[0], {})[path[1]] = value
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        JobSpec.from_dict(d)


def test_spec_requires_a_location_for_every_plan_dataset():
    import copy

    d = copy.deepcopy(BASE)
    d["data"]["datasets"] = {}
    with pytest.raises(ValueError, match="data.datasets"):
        JobSpec.from_dict(d)
    assert JobSpec.from_dict(BASE).model_config().name == "tiny"
