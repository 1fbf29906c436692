"""Parse the --layers / --roles selections (strings from the CLI or Python values)."""
from __future__ import annotations

from lrscan.errors import UsageError


def parse_layers(spec) -> list[int] | None:
    """'0-5', '0,2,7-9', 3, [0, 1] or None (all) -> sorted list of layer indices."""
    if spec is None or spec == "" or spec == "all":
        return None
    if isinstance(spec, int) and not isinstance(spec, bool):
        return [spec]
    if isinstance(spec, (list, tuple, set, range)):
        try:
            return sorted({int(x) for x in spec})
        except (TypeError, ValueError):
            raise UsageError(f"--layers: expected integers, got {list(spec)!r}") from None
    out: set[int] = set()
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                a, b = part[0] + part[1:].split("-", 1)[0], part[1:].split("-", 1)[1]
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                out.update(range(lo, hi + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise UsageError(f"--layers: cannot read {part!r} (use e.g. 0-5 or 0,2,4-6)") from None
    if not out:
        raise UsageError(f"--layers: no layer in {spec!r}")
    return sorted(out)


def parse_roles(spec) -> list[str] | None:
    """'Q,K,QKV', ['Q', 'K'] or None (all) -> list of role names, validated."""
    from lrscan.arch.family import ROLES

    if spec is None or spec == "" or spec == "all":
        return None
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    roles = [str(r).strip() for r in items if str(r).strip()]
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise UsageError(f"--roles: unknown role(s) {bad or spec!r}; roles are {', '.join(ROLES)}")
    return roles
