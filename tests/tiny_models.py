"""Tiny random models, one per supported family, saved the way real checkpoints are.

Reusable by any test:

    build_tiny(family, path, *, sharded=False, bin_format=False, dtype=None, seed=0) -> Path
        A folder with config.json + weights: transformers `save_pretrained` (safetensors; with
        `sharded` a small max_shard_size so model.safetensors.index.json + several shards appear),
        or with `bin_format` a `pytorch_model.bin` written by torch.save. `dtype` e.g. torch.bfloat16.
        "phi-msft" is the legacy Phi-2 layout, written by renaming/fusing a tiny `phi` model's
        tensors (transformers cannot build it); its source `phi` model is kept beside it.
    load_module(family, path) -> torch.nn.Module          the model instantiated from the folder
    reference_matrices(family, path) -> {(layer, role): torch.Tensor [out, in]}
        Taken independently of lrscan's family files: from the module's attributes; fused and
        Conv1D weights by running the module itself on the identity (bias zeroed) and splitting
        its output the way the model's own forward does.

FAMILIES lists every family key; CAUSAL / MASKED tell which transformers classes are used.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

FAMILIES = (
    "bert", "roberta", "gpt2", "gpt2-xl-shape", "phi", "phi-msft", "gptj", "gpt_neox",
    "llama", "mistral", "qwen2", "opt", "phi3",
)
MODEL_TYPE = {"gpt2-xl-shape": "gpt2", "phi-msft": "phi-msft"}
_SMALL = dict(vocab_size=64, max_position_embeddings=64)


def _config_and_class(family: str):
    import transformers as T

    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, **_SMALL)
    if family == "bert":
        return T.BertConfig(**common), T.BertForMaskedLM
    if family == "roberta":
        return T.RobertaConfig(**common, pad_token_id=1), T.RobertaForMaskedLM
    if family == "gpt2":
        return T.GPT2Config(vocab_size=64, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                            bos_token_id=0, eos_token_id=0), T.GPT2LMHeadModel
    if family == "gpt2-xl-shape":  # GPT-2 XL's odd head count (25 heads), n_inner left null
        return T.GPT2Config(vocab_size=64, n_positions=64, n_embd=50, n_layer=3, n_head=25,
                            bos_token_id=0, eos_token_id=0), T.GPT2LMHeadModel
    if family in ("phi", "phi-msft"):
        return T.PhiConfig(**common), T.PhiForCausalLM
    if family == "gptj":
        return T.GPTJConfig(vocab_size=64, n_positions=64, n_embd=32, n_layer=2, n_head=4, rotary_dim=4,
                            bos_token_id=0, eos_token_id=0), T.GPTJForCausalLM
    if family == "gpt_neox":
        return T.GPTNeoXConfig(**common), T.GPTNeoXForCausalLM
    if family == "llama":
        return T.LlamaConfig(**common, num_key_value_heads=2), T.LlamaForCausalLM
    if family == "mistral":
        return T.MistralConfig(**common, num_key_value_heads=2), T.MistralForCausalLM
    if family == "qwen2":
        return T.Qwen2Config(**common, num_key_value_heads=2), T.Qwen2ForCausalLM
    if family == "opt":
        return T.OPTConfig(vocab_size=64, max_position_embeddings=64, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, ffn_dim=48, word_embed_proj_dim=32), T.OPTForCausalLM
    if family == "phi3":
        return T.Phi3Config(**{**common, "num_hidden_layers": 2}, num_key_value_heads=2,
                            pad_token_id=0, bos_token_id=0, eos_token_id=0), T.Phi3ForCausalLM
    raise KeyError(f"no tiny model for family {family!r}; known: {FAMILIES}")


def _source_dir(path: Path) -> Path:
    return path.with_name(path.name + ".phi-source")


def build_tiny(family: str, path, *, sharded: bool = False, bin_format: bool = False, dtype=None, seed: int = 0) -> Path:
    path = Path(path)
    torch.manual_seed(seed)
    config, cls = _config_and_class(family)
    model = cls(config).eval()
    if dtype is not None:
        model = model.to(dtype)
    if family == "phi-msft":
        src = _source_dir(path)
        model.save_pretrained(src)
        _write_phi_msft(model, path, sharded=sharded, bin_format=bin_format)
        return path
    if bin_format:
        path.mkdir(parents=True, exist_ok=True)
        model.config.save_pretrained(path)
        torch.save(model.state_dict(), path / "pytorch_model.bin")
    else:
        model.save_pretrained(path, max_shard_size="30KB" if sharded else "50GB")
    return path


def _write_phi_msft(phi_model, path: Path, *, sharded: bool, bin_format: bool) -> None:
    """Legacy Phi-2 (remote-code `phi-msft`) layout from an HF-native `phi` model."""
    sd = {k: v.detach().clone() for k, v in phi_model.state_dict().items()}
    cfg = phi_model.config
    out: dict[str, torch.Tensor] = {"transformer.embd.wte.weight": sd.pop("model.embed_tokens.weight")}
    for i in range(cfg.num_hidden_layers):
        p, q = f"model.layers.{i}.", f"transformer.h.{i}."
        for kind in ("weight", "bias"):
            out[q + f"ln.{kind}"] = sd.pop(p + f"input_layernorm.{kind}")
            out[q + f"mixer.Wqkv.{kind}"] = torch.cat([sd.pop(p + f"self_attn.{x}_proj.{kind}") for x in "qkv"], dim=0)
            out[q + f"mixer.out_proj.{kind}"] = sd.pop(p + f"self_attn.dense.{kind}")
            out[q + f"mlp.fc1.{kind}"] = sd.pop(p + f"mlp.fc1.{kind}")
            out[q + f"mlp.fc2.{kind}"] = sd.pop(p + f"mlp.fc2.{kind}")
    for kind in ("weight", "bias"):
        out[f"lm_head.ln.{kind}"] = sd.pop(f"model.final_layernorm.{kind}")
        out[f"lm_head.linear.{kind}"] = sd.pop(f"lm_head.{kind}")
    assert not sd, f"unconverted tensors: {list(sd)}"
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "model_type": "phi-msft", "architectures": ["PhiForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_phi.PhiConfig", "AutoModelForCausalLM": "modeling_phi.PhiForCausalLM"},
        "n_layer": cfg.num_hidden_layers, "n_embd": cfg.hidden_size, "n_head": cfg.num_attention_heads,
        "n_head_kv": None, "n_inner": None, "n_positions": cfg.max_position_embeddings,
        "rotary_dim": 4, "vocab_size": cfg.vocab_size, "torch_dtype": str(phi_model.dtype).removeprefix("torch."),
    }
    (path / "config.json").write_text(json.dumps(config, indent=2))
    write_state_dict(out, path, sharded=sharded, bin_format=bin_format)


def write_state_dict(sd: dict, path: Path, *, sharded: bool = False, bin_format: bool = False) -> None:
    """Write tensors as model.safetensors / sharded safetensors + index / pytorch_model.bin."""
    from safetensors.torch import save_file

    sd = {k: v.contiguous() for k, v in sd.items()}
    if bin_format:
        torch.save(sd, path / "pytorch_model.bin")
        return
    if not sharded:
        save_file(sd, str(path / "model.safetensors"), metadata={"format": "pt"})
        return
    names = sorted(sd)
    chunks = [names[j::3] for j in range(3)]
    weight_map = {}
    for j, chunk in enumerate(chunks):
        fname = f"model-{j + 1:05d}-of-{len(chunks):05d}.safetensors"
        save_file({k: sd[k] for k in chunk}, str(path / fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in chunk})
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=2))


def load_module(family: str, path) -> torch.nn.Module:
    path = Path(path)
    _, cls = _config_and_class(family)
    src = _source_dir(path) if family == "phi-msft" else path
    return cls.from_pretrained(src).eval()


# ---- reference matrices, from the module itself -------------------------------------------------
@torch.no_grad()
def _probe(mod) -> torch.Tensor:
    """x -> mod(x) as the matrix M with mod(x) = x @ M (bias zeroed), shape [in, out]."""
    m = copy.deepcopy(mod).float()
    if getattr(m, "bias", None) is not None:
        m.bias.zero_()
    n_in = m.in_features if isinstance(m, torch.nn.Linear) else m.weight.shape[0]
    return m(torch.eye(n_in))


def _lin(mod) -> torch.Tensor:
    assert isinstance(mod, torch.nn.Linear)
    return mod.weight.detach().float()


def reference_matrices(family: str, path) -> dict[tuple[int, str], torch.Tensor]:
    m = load_module(family, path)
    ref: dict[tuple[int, str], torch.Tensor] = {}
    if family in ("bert", "roberta"):
        base = m.bert if family == "bert" else m.roberta
        for i, L in enumerate(base.encoder.layer):
            a = L.attention
            ref.update({(i, "Q"): _lin(a.self.query), (i, "K"): _lin(a.self.key), (i, "V"): _lin(a.self.value),
                        (i, "O"): _lin(a.output.dense), (i, "M1"): _lin(L.intermediate.dense), (i, "M2"): _lin(L.output.dense)})
    elif family in ("gpt2", "gpt2-xl-shape"):
        for i, L in enumerate(m.transformer.h):
            q, k, v = _probe(L.attn.c_attn).split(L.attn.split_size, dim=-1)  # as GPT2Attention.forward
            ref.update({(i, "Q"): q.T, (i, "K"): k.T, (i, "V"): v.T, (i, "O"): _probe(L.attn.c_proj).T,
                        (i, "M1"): _probe(L.mlp.c_fc).T, (i, "M2"): _probe(L.mlp.c_proj).T})
    elif family in ("phi", "phi-msft"):
        for i, L in enumerate(m.model.layers):
            a = L.self_attn
            ref.update({(i, "Q"): _lin(a.q_proj), (i, "K"): _lin(a.k_proj), (i, "V"): _lin(a.v_proj),
                        (i, "O"): _lin(a.dense), (i, "M1"): _lin(L.mlp.fc1), (i, "M2"): _lin(L.mlp.fc2)})
    elif family == "gptj":
        for i, L in enumerate(m.transformer.h):
            a = L.attn
            ref.update({(i, "Q"): _lin(a.q_proj), (i, "K"): _lin(a.k_proj), (i, "V"): _lin(a.v_proj),
                        (i, "O"): _lin(a.out_proj), (i, "M1"): _lin(L.mlp.fc_in), (i, "M2"): _lin(L.mlp.fc_out)})
    elif family == "gpt_neox":
        for i, L in enumerate(m.gpt_neox.layers):
            a = L.attention
            qkv = _probe(a.query_key_value)  # [in, 3*d]; forward: view(..., -1, 3*head_size).chunk(3, -1)
            n_in = qkv.shape[0]
            q, k, v = qkv.view(n_in, -1, 3 * a.head_size).chunk(3, dim=-1)
            ref.update({(i, "Q"): q.reshape(n_in, -1).T, (i, "K"): k.reshape(n_in, -1).T, (i, "V"): v.reshape(n_in, -1).T,
                        (i, "O"): _lin(a.dense), (i, "M1"): _lin(L.mlp.dense_h_to_4h), (i, "M2"): _lin(L.mlp.dense_4h_to_h)})
    elif family in ("llama", "mistral", "qwen2"):
        for i, L in enumerate(m.model.layers):
            a = L.self_attn
            ref.update({(i, "Q"): _lin(a.q_proj), (i, "K"): _lin(a.k_proj), (i, "V"): _lin(a.v_proj), (i, "O"): _lin(a.o_proj),
                        (i, "M1"): _lin(L.mlp.up_proj), (i, "M1_gate"): _lin(L.mlp.gate_proj), (i, "M2"): _lin(L.mlp.down_proj)})
    elif family == "opt":
        for i, L in enumerate(m.model.decoder.layers):
            a = L.self_attn
            ref.update({(i, "Q"): _lin(a.q_proj), (i, "K"): _lin(a.k_proj), (i, "V"): _lin(a.v_proj),
                        (i, "O"): _lin(a.out_proj), (i, "M1"): _lin(L.fc1), (i, "M2"): _lin(L.fc2)})
    elif family == "phi3":
        cfg = m.config
        for i, L in enumerate(m.model.layers):
            a = L.self_attn
            qkv = _probe(a.qkv_proj)  # forward: [:qp], [qp: qp + kv*hd], [qp + kv*hd:]
            qp = cfg.num_attention_heads * a.head_dim
            kp = cfg.num_key_value_heads * a.head_dim
            gate, up = _probe(L.mlp.gate_up_proj).chunk(2, dim=-1)  # forward: gate, up = ....chunk(2, -1)
            ref.update({(i, "Q"): qkv[:, :qp].T, (i, "K"): qkv[:, qp:qp + kp].T, (i, "V"): qkv[:, qp + kp:].T,
                        (i, "O"): _lin(a.o_proj), (i, "M1"): up.T, (i, "M1_gate"): gate.T, (i, "M2"): _lin(L.mlp.down_proj)})
    else:
        raise KeyError(family)
    layers = sorted({i for i, _ in ref})
    for i in layers:
        ref[(i, "QKV")] = torch.cat([ref[(i, "Q")], ref[(i, "K")], ref[(i, "V")]], dim=0)
    return {k: v.detach().contiguous() for k, v in ref.items()}
