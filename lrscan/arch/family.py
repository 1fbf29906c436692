"""One architecture family as data: parsed and validated from `families/<name>.toml`.

File format (see families/gpt2.toml for a fused example, llama.toml for a plain one):

    title       = "GPT-2 (incl. Large/XL)"      # shown by `lrscan archs`
    model_types = ["gpt2"]                      # config.json "model_type" values it covers
    prefixes    = ["", "transformer."]          # tried on the checkpoint; the one that matches wins
    layout      = "conv1d"                      # "linear" (default, stored [out, in]) | "conv1d" ([in, out])
    [config]                                    # config.json keys per fact, first present non-null wins
    num_layers = ["n_layer"]; d_model = [...]; d_ff = [...]; num_heads = [...]
    num_kv_heads = [...]; head_dim = [...]      # optional: default num_heads, d_model // num_heads
    [roles]                                     # role -> tensor name template, {i} = layer index
    O = "h.{i}.attn.c_proj.weight"
    [[fused]]                                   # one tensor that several roles share
    tensor = "h.{i}.attn.c_attn.weight"
    split  = "equal3"                           # a rule from lrscan.arch.splits
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lrscan.arch.splits import SPLITS

ROLES = ("Q", "K", "V", "O", "QKV", "M1", "M1_gate", "M2", "other")
LAYOUTS = ("linear", "conv1d")
FACTS = ("num_layers", "d_model", "d_ff", "num_heads", "num_kv_heads", "head_dim")
_TOP_KEYS = {"title", "model_types", "prefixes", "layout", "config", "roles", "fused"}


class FamilyFileError(ValueError):
    """A family data file is malformed (a bug in lrscan's data, caught at load time)."""


@dataclass(frozen=True)
class Fused:
    tensor: str
    split: str


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    model_types: tuple[str, ...]
    prefixes: tuple[str, ...]
    layout: str
    config_keys: dict = field(default_factory=dict)  # fact -> tuple of config.json keys
    roles: dict = field(default_factory=dict)  # role -> template
    fused: tuple[Fused, ...] = ()

    def role_sources(self) -> dict[str, str]:
        """role -> human-readable source (template, or template + split), for `lrscan archs`."""
        out = {r: t for r, t in self.roles.items()}
        for f in self.fused:
            rule = SPLITS[f.split]
            for r in rule.roles:
                out[r] = f"{f.tensor} [{f.split}: {r}]"
            if rule.whole:
                out[rule.whole] = f"{f.tensor} (whole)"
        if "QKV" not in out and all(r in out for r in ("Q", "K", "V")):
            out["QKV"] = "[Q; K; V] stacked"
        return {r: out[r] for r in ROLES if r in out}


def parse_family(name: str, data: dict) -> Family:
    def fail(msg: str):
        raise FamilyFileError(f"families/{name}.toml: {msg}")

    unknown = set(data) - _TOP_KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)}")
    model_types = data.get("model_types")
    if not model_types or not all(isinstance(m, str) for m in model_types):
        fail("model_types must be a non-empty list of strings")
    layout = data.get("layout", "linear")
    if layout not in LAYOUTS:
        fail(f"layout must be one of {LAYOUTS}")
    cfg = data.get("config", {})
    if set(cfg) - set(FACTS):
        fail(f"unknown [config] facts {sorted(set(cfg) - set(FACTS))}; known: {FACTS}")
    if "num_layers" not in cfg:
        fail("[config] needs num_layers")
    roles = data.get("roles", {})
    for role, tmpl in roles.items():
        if role not in ROLES or role == "other":
            fail(f"unknown role {role!r}; roles are {ROLES[:-1]}")
        if not isinstance(tmpl, str) or "{i}" not in tmpl:
            fail(f"role {role}: template must be a string containing {{i}}")
    fused = []
    for f in data.get("fused", []):
        if set(f) != {"tensor", "split"}:
            fail("each [[fused]] needs exactly 'tensor' and 'split'")
        if f["split"] not in SPLITS:
            fail(f"unknown split {f['split']!r}; known: {sorted(SPLITS)}")
        if "{i}" not in f["tensor"]:
            fail(f"fused tensor {f['tensor']!r} must contain {{i}}")
        clash = set(SPLITS[f["split"]].roles) & set(roles)
        if clash:
            fail(f"roles {sorted(clash)} defined both in [roles] and by split {f['split']}")
        fused.append(Fused(f["tensor"], f["split"]))
    return Family(
        name=name,
        title=data.get("title", name),
        model_types=tuple(model_types),
        prefixes=tuple(data.get("prefixes", [""])),
        layout=layout,
        config_keys={k: tuple(v) if isinstance(v, list) else (v,) for k, v in cfg.items()},
        roles=dict(roles),
        fused=tuple(fused),
    )
