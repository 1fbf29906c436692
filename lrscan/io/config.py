"""Checks on config.json beyond "is it JSON" (lrscan.scan.read_config parses it as plain data).

    check_config(config, generic=False)

Remote code is never run: a config that names custom classes (`auto_map`, the
`trust_remote_code` route in transformers) for a model_type lrscan has no family for is refused
with one line pointing at --generic, which scans the weights by name patterns instead.
"""
from __future__ import annotations

from lrscan.errors import UnsupportedArchitecture


def check_config(config: dict, generic: bool = False) -> None:
    if generic:
        return
    from lrscan.arch.registry import supported_model_types

    model_type = config.get("model_type")
    if model_type is None:
        raise UnsupportedArchitecture(
            "config.json has no model_type, so the architecture is unknown; "
            "--generic scans every 2-D weight with role 'other'"
        )
    if model_type in supported_model_types():
        return
    auto_map = config.get("auto_map")
    if auto_map:
        from lrscan.arch.registry import family_for

        classes = ", ".join(sorted(str(v) for v in (auto_map.values() if isinstance(auto_map, dict) else [auto_map])))[:120]
        try:
            family_for(model_type)
        except UnsupportedArchitecture as e:
            raise UnsupportedArchitecture(
                f"{e}. Its config needs remote code ({classes}), which lrscan never runs (no trust_remote_code)"
            ) from None
