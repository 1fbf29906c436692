"""model_type -> family, and the scan plan for one checkpoint.

    families() -> list[Family]                    every families/*.toml, validated
    family_for(model_type) -> Family              UnsupportedArchitecture when none covers it
    build_plan(config, infos, *, generic=False, layers=None, roles=None) -> Plan

`config` is config.json as a dict (parsed by us; remote code is never run), `infos` maps tensor
name -> TensorInfo (lrscan.io.Checkpoint). Nothing here names a family: all family knowledge
lives in the data files.
"""
from __future__ import annotations

import functools
import re
from importlib import resources

from lrscan.arch.family import FACTS, ROLES, Family, parse_family
from lrscan.arch.plan import ConfigFacts, Piece, Plan, PlannedMatrix
from lrscan.arch.splits import SPLITS
from lrscan.errors import UnsupportedArchitecture, WeightsError
from lrscan.io.checkpoint import unscannable_reason

_LAYER_IN_NAME = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")


def _load_toml(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


@functools.lru_cache(maxsize=1)
def _families() -> tuple[Family, ...]:
    folder = resources.files("lrscan.arch") / "families"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.append(parse_family(entry.name[: -len(".toml")], _load_toml(entry.read_text(encoding="utf-8"))))
    seen: dict[str, str] = {}
    for fam in out:
        for mt in fam.model_types:
            if mt in seen:
                raise ValueError(f"model_type {mt!r} claimed by both {seen[mt]} and {fam.name}")
            seen[mt] = fam.name
    return tuple(out)


def families() -> list[Family]:
    return list(_families())


def supported_model_types() -> list[str]:
    return sorted(mt for f in _families() for mt in f.model_types)


def family_for(model_type: str | None) -> Family:
    for fam in _families():
        if model_type in fam.model_types:
            return fam
    names = ", ".join(f"{f.title} ({'/'.join(f.model_types)})" for f in _families())
    raise UnsupportedArchitecture(
        f"model_type {model_type!r} is not supported; supported families: {names}. "
        "Use --generic to scan every 2-D weight with role 'other'"
    )


# ---- config facts ---------------------------------------------------------------------------
def _config_value(config: dict, keys: tuple[str, ...]):
    for k in keys:
        v = config.get(k)
        if v is not None:
            return v
    return None


def config_facts(fam: Family | None, config: dict, num_layers_fallback: int | None = None) -> ConfigFacts:
    raw = {f: _config_value(config, fam.config_keys.get(f, ())) if fam else None for f in FACTS}
    for k, v in raw.items():
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise WeightsError(f"config.json: {k} ({'/'.join(fam.config_keys[k])}) must be a non-negative integer, got {v!r}")
    n = raw["num_layers"] if raw["num_layers"] is not None else (num_layers_fallback or 0)
    heads = raw["num_heads"]
    return ConfigFacts(
        num_layers=n,
        d_model=raw["d_model"],
        d_ff=raw["d_ff"],
        num_heads=heads,
        num_kv_heads=raw["num_kv_heads"] if raw["num_kv_heads"] is not None else heads,
        head_dim=raw["head_dim"] if raw["head_dim"] is not None else (raw["d_model"] // heads if heads and raw["d_model"] else None),
    )


# ---- family plan ----------------------------------------------------------------------------
def _layer_pieces(fam: Family, prefix: str, i: int) -> dict[str, tuple[Piece, ...]]:
    """role -> pieces for block i (QKV derived by stacking when the family has no fused whole)."""
    out: dict[str, tuple[Piece, ...]] = {}
    for role, tmpl in fam.roles.items():
        out[role] = (Piece(prefix + tmpl.format(i=i), fam.layout),)
    for f in fam.fused:
        rule = SPLITS[f.split]
        name = prefix + f.tensor.format(i=i)
        for r in rule.roles:
            out[r] = (Piece(name, fam.layout, f.split, r),)
        if rule.whole:
            out[rule.whole] = (Piece(name, fam.layout),)
    if "QKV" not in out and all(r in out for r in ("Q", "K", "V")):
        out["QKV"] = out["Q"] + out["K"] + out["V"]
    return out


def _choose_prefix(fam: Family, names: set[str]) -> str:
    probe = [tmpl for tmpl in fam.roles.values()] + [f.tensor for f in fam.fused]
    best, best_hits = None, 0
    for prefix in fam.prefixes:
        hits = sum((prefix + t.format(i=0)) in names for t in probe)
        if hits > best_hits:
            best, best_hits = prefix, hits
    if best is None:
        tried = ", ".join(repr(p + probe[0].format(i=0)) for p in fam.prefixes)
        raise WeightsError(f"no tensor of a {fam.title} checkpoint found (looked for {tried}): is model_type right?")
    return best


def _count_layers(fam: Family, prefix: str, names: set[str]) -> int:
    tmpl = next(iter(fam.roles.values()), None) or fam.fused[0].tensor
    n = 0
    while prefix + tmpl.format(i=n) in names:
        n += 1
    return n


def _template_regexes(fam: Family, prefix: str) -> list[re.Pattern]:
    tmpls = list(fam.roles.values()) + [f.tensor for f in fam.fused]
    return [re.compile("^" + re.escape(prefix + t).replace(re.escape("{i}"), r"(\d+)") + "$") for t in tmpls]


def _unmapped_reason(fam_title: str, info) -> str:
    nd = len(info.shape)
    if nd == 1:
        return "1-D tensor (bias or norm): not a weight matrix"
    if nd == 2:
        return f"2-D tensor outside the {fam_title} block roles (embedding, head or other)"
    return f"{nd}-D tensor: not a weight matrix"


def _family_plan(fam: Family, model_type: str, config: dict, infos: dict, layers, roles) -> Plan:
    names = set(infos)
    prefix = _choose_prefix(fam, names)
    facts = config_facts(fam, config, num_layers_fallback=_count_layers(fam, prefix, names))
    wanted_layers = range(facts.num_layers) if layers is None else sorted(set(layers))
    bad = [i for i in wanted_layers if not 0 <= i < facts.num_layers]
    if bad:
        from lrscan.errors import UsageError

        raise UsageError(f"layer(s) {bad} out of range: the model has layers 0-{facts.num_layers - 1}")

    used: set[str] = set()
    matrices: list[PlannedMatrix] = []
    skipped: list[dict] = []
    missing: list[str] = []
    for i in range(facts.num_layers):
        pieces = _layer_pieces(fam, prefix, i)
        for role in ROLES:
            if role not in pieces:
                continue
            pm = PlannedMatrix(i, role, pieces[role])
            if i not in wanted_layers or (roles is not None and role not in roles):
                continue
            absent = [t for t in pm.tensors if t not in infos]
            if absent:
                missing.extend(t for t in absent if t not in missing)
                continue
            reasons = [unscannable_reason(infos[t].dtype) for t in pm.tensors]
            reasons = [r for r in reasons if r]
            if reasons:
                for t in pm.tensors:
                    if unscannable_reason(infos[t].dtype) and not any(s["tensor"] == t for s in skipped):
                        skipped.append({"tensor": t, "reason": unscannable_reason(infos[t].dtype)})
                continue
            matrices.append(pm)
            used.update(pm.tensors)
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise WeightsError(
            f"checkpoint is missing {len(missing)} tensor(s) that config.json ({facts.num_layers} layers) implies: "
            f"{', '.join(missing[:3])}{more}"
        )
    # shape checks: fused splits must fit the config; a matrix must be 2-D
    for pm in matrices:
        for p in pm.pieces:
            shape = infos[p.tensor].shape
            if len(shape) != 2:
                raise WeightsError(f"{p.tensor}: expected a 2-D weight, found shape {list(shape)}")
            p.row_range(shape, facts)  # raises WeightsError when a split does not fit

    regexes = _template_regexes(fam, prefix)
    for name, info in infos.items():
        if name in used or any(s["tensor"] == name for s in skipped):
            continue
        m = next((rx.match(name) for rx in regexes if rx.match(name)), None)
        if m is not None:
            i = int(m.group(1))
            if i >= facts.num_layers:
                reason = f"layer {i} beyond config.json's num_layers={facts.num_layers}"
            elif i not in wanted_layers:
                reason = f"layer {i} not selected (--layers)"
            else:
                reason = "role not selected (--roles)"
        else:
            reason = unscannable_reason(info.dtype) or _unmapped_reason(fam.title, info)
        skipped.append({"tensor": name, "reason": reason})

    # config facts the config leaves out (e.g. GPT-2's n_inner: null) are read off the tensors
    if facts.d_ff is None:
        m1 = _layer_pieces(fam, prefix, 0).get("M1")
        if m1 and m1[0].tensor in infos and m1[0].split is None:
            shape = infos[m1[0].tensor].shape
            d_ff = shape[1] if m1[0].layout == "conv1d" else shape[0]
            facts = ConfigFacts(**{**facts.as_dict(), "d_ff": d_ff})
    return Plan(fam.name, model_type, facts, prefix, matrices, skipped)


# ---- generic plan ---------------------------------------------------------------------------
def layer_from_name(name: str) -> int:
    m = _LAYER_IN_NAME.search(name)
    return int(m.group(1)) if m else -1


def _generic_plan(model_type: str, infos: dict, layers, roles) -> Plan:
    matrices, skipped = [], []
    if roles is not None and "other" not in roles:
        from lrscan.errors import UsageError

        raise UsageError("generic mode yields role 'other' only; drop --roles or include 'other'")
    for name, info in infos.items():
        if len(info.shape) != 2:
            skipped.append({"tensor": name, "reason": f"{len(info.shape)}-D tensor: not a weight matrix"})
            continue
        reason = unscannable_reason(info.dtype)
        if reason:
            skipped.append({"tensor": name, "reason": reason})
            continue
        i = layer_from_name(name)
        if layers is not None and i not in layers:
            skipped.append({"tensor": name, "reason": f"layer {i} not selected (--layers)"})
            continue
        matrices.append(PlannedMatrix(i, "other", (Piece(name),)))
    matrices.sort(key=lambda m: (m.layer, m.pieces[0].tensor))
    n = max([m.layer for m in matrices if m.layer >= 0], default=-1) + 1
    return Plan("generic", model_type or "", ConfigFacts(num_layers=n), "", matrices, skipped)


def build_plan(config: dict, infos: dict, *, generic: bool = False, layers=None, roles=None) -> Plan:
    """The plan for one checkpoint. `generic` is the fallback for an unknown model_type."""
    model_type = config.get("model_type")
    if roles is not None:
        bad = [r for r in roles if r not in ROLES]
        if bad:
            from lrscan.errors import UsageError

            raise UsageError(f"unknown role(s) {bad}; roles are {', '.join(ROLES)}")
    try:
        fam = family_for(model_type)
    except UnsupportedArchitecture:
        if not generic:
            raise
        return _generic_plan(model_type, infos, layers, roles)
    return _family_plan(fam, model_type, config, infos, layers, roles)
