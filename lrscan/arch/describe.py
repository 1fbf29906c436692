"""Human-readable views of the registry: `lrscan archs` and the README's families table."""
from __future__ import annotations

from lrscan.arch.registry import families


def _md_source(src: str) -> str:
    if src.startswith("["):
        return src
    name, sep, rest = src.partition(" ")
    return f"`{name}`" + (f" {rest}" if sep else "")


def families_markdown() -> str:
    """The README's families table, generated from the registry (`lrscan archs --markdown`)."""
    lines = [
        "| family | `model_type` | tensor prefixes | roles → tensors (`{i}` = layer) |",
        "|---|---|---|---|",
    ]
    for f in families():
        prefixes = ", ".join(f"`{p}`" if p else "(none)" for p in f.prefixes)
        roles = "<br>".join(f"**{r}** {_md_source(src)}" for r, src in f.role_sources().items())
        layout = " (Conv1D `[in, out]`, transposed)" if f.layout == "conv1d" else ""
        lines.append(f"| {f.title}{layout} | {', '.join(f'`{m}`' for m in f.model_types)} | {prefixes} | {roles} |")
    return "\n".join(lines)


def families_text() -> str:
    out = ["Supported families (data: lrscan/arch/families/*.toml). Roles: Q K V O QKV M1 M1_gate M2;",
           "matrices in nn.Linear [out, in] orientation, QKV = [Q; K; V] stacked on rows, layers from 0.", ""]
    for f in families():
        layout = "Conv1D [in, out], read transposed" if f.layout == "conv1d" else "Linear [out, in]"
        prefixes = ", ".join(repr(p) for p in f.prefixes)
        out.append(f"{f.title}  (model_type: {', '.join(f.model_types)}; prefixes: {prefixes}; {layout})")
        out.extend(f"    {r:<8} {src}" for r, src in f.role_sources().items())
        out.append("")
    out.append("Unknown model_type: --generic scans every 2-D weight with role 'other' (layer parsed from the name, else -1).")
    return "\n".join(out)


def print_families() -> None:
    print(families_text())
