"""Export a checkpoint to Hugging Face format, as the released MobileLLM-R1 checkpoints are stored:
`Llama4ForCausalLM` / `llama4_text`, dense (moe_layers []), RoPE on every layer (no_rope_layers all
1), use_qk_norm, tied embeddings. Writes config.json + model.safetensors (+ generation_config.json).

    python -m tokenmill_trainer.export --checkpoint CKPT_DIR/step-00001000 --out OUT_DIR

CKPT_DIR may also be the checkpoint root: the newest complete checkpoint is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from . import checkpoint as ckpt
from .config import ModelConfig

BOS_ID, EOS_IDS = 128000, [128001, 128008, 128009]


def hf_config(cfg: ModelConfig, dtype: str = "float32") -> dict:
    return {
        "architectures": ["Llama4ForCausalLM"],
        "model_type": "llama4_text",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn_dim,
        "intermediate_size_mlp": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "initializer_range": cfg.init_std,
        "rms_norm_eps": cfg.norm_eps,
        "use_cache": True,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_IDS,
        "pad_token_id": None,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "num_local_experts": 0,
        "num_experts_per_tok": 0,
        "moe_layers": [],
        "interleave_moe_layer_step": 0,
        "use_qk_norm": True,
        "no_rope_layers": [1] * cfg.n_layers,
        # RoPE layers use "chunked" attention in HF Llama4: a chunk as long as the context is plain causal.
        "attention_chunk_size": cfg.max_seq_len,
        "layer_types": ["chunked_attention"] * cfg.n_layers,
        "attn_temperature_tuning": False,
        "floor_scale": 8192,
        "attn_scale": 0.1,
        # transformers < 5 reads rope_theta/rope_scaling; >= 5 reads rope_parameters.
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "torch_dtype": dtype,
        "dtype": dtype,
        "tokenmill": {"model": cfg.identity()},
    }


def hf_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    names = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj", "attention.wv": "self_attn.v_proj",
             "attention.wo": "self_attn.o_proj", "feed_forward.w1": "feed_forward.gate_proj",
             "feed_forward.w3": "feed_forward.up_proj", "feed_forward.w2": "feed_forward.down_proj",
             "attention_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
    out = {"model.embed_tokens.weight": state["tok_embeddings.weight"], "model.norm.weight": state["norm.weight"]}
    for i in range(cfg.n_layers):
        for ours, theirs in names.items():
            out[f"model.layers.{i}.{theirs}.weight"] = state[f"layers.{i}.{ours}.weight"]
    used = {"tok_embeddings.weight", "norm.weight"} | {f"layers.{i}.{k}.weight" for i in range(cfg.n_layers) for k in names}
    extra = sorted(set(state) - used)
    assert not extra, f"unexported parameters: {extra}"
    return {k: v.detach().to("cpu", dtype).contiguous() for k, v in out.items()}


def write_tokenizer(tokenizer_json: str | Path, out: Path, max_len: int) -> None:
    """The Llama-3 tokenizer.json (the curator's) plus a config that loads it as a fast tokenizer."""
    import shutil

    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
        "eos_token": "<|end_of_text|>", "model_max_length": max_len, "clean_up_tokenization_spaces": False}, indent=2))


def export(checkpoint_dir: str | Path, out_dir: str | Path, dtype: str = "float32",
           tokenizer_json: str | Path | None = None) -> Path:
    path = Path(checkpoint_dir)
    if not (path / "state.json").exists():
        found = ckpt.list_checkpoints(path)
        if not found:
            raise ValueError(f"--checkpoint: no checkpoint in {path}")
        path = found[-1]
    state = ckpt.read_state(path)
    cfg = ModelConfig.from_dict(state["identity"]["model"])
    model_state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    model_state = {k.removeprefix("_orig_mod."): v for k, v in model_state.items()}
    tdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(hf_state_dict(model_state, cfg, tdtype), out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(hf_config(cfg, dtype), indent=2))
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": BOS_ID, "eos_token_id": EOS_IDS}, indent=2))
    if tokenizer_json:
        write_tokenizer(tokenizer_json, out, cfg.max_seq_len)
    (out / "tokenmill.json").write_text(json.dumps({"checkpoint": str(path), "step": state["step"],
                                                    "run_id": state.get("run_id"), "identity": state["identity"],
                                                    "tokens_consumed": state.get("tokens_consumed")}, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenmill_trainer.export", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="a step-* folder, or a checkpoint root (newest is used)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--tokenizer", default=None,
                    help="tokenizer.json to ship with the model (e.g. the curator's Llama-3 tokenizer)")
    args = ap.parse_args(argv)
    try:
        out = export(args.checkpoint, args.out, args.dtype, args.tokenizer)
    except ValueError as e:
        print(f"tokenmill-export: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"event": "exported", "out": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
