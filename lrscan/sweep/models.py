"""What to sweep: parse a models list, expand revisions, name each entry's output folder.

A models list (`models.txt`) has one hub id or local folder per line, optionally followed by
`@revision`; `#` starts a comment, blank lines are ignored:

    bert-base-uncased
    EleutherAI/pythia-160m@step3000     # one checkpoint of a training run
    ./checkpoints/my-finetune           # relative to the list's own folder when it exists there

`--revisions a,b,c` gives every entry *without* an explicit `@revision` each of those revisions.
Repeated (model, revision) pairs are swept once.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from lrscan.errors import UsageError


@dataclass(frozen=True, order=True)
class ModelSpec:
    """One unit of work: a model (hub id or folder, as given) at one revision ('' = default)."""

    model: str
    revision: str = ""

    @property
    def key(self) -> str:
        return f"{self.model}@{self.revision}" if self.revision else self.model

    @property
    def slug(self) -> str:
        """Folder name of this entry's outputs: `<model-slug>` or `<model-slug>@<revision-slug>`."""
        s = _slug(self.model)
        return f"{s}@{_slug(self.revision)}" if self.revision else s


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _slug(text: str) -> str:
    """Filesystem-safe, readable, injective enough: 'org/name' -> 'org--name'."""
    text = text.strip().rstrip("/\\")
    if text.startswith((".", "/", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        # local folders are named by their last two components ('/runs/a/ckpt' -> 'a--ckpt')
        text = "/".join(Path(text).expanduser().parts[-2:])
    s = _UNSAFE.sub("-", text.replace("/", "--")).strip("-.")
    return s or "model"


def split_revision(entry: str, base_dir: Path | None = None) -> ModelSpec:
    """'org/name@rev' -> ModelSpec('org/name', 'rev'). A path that exists as written keeps its '@'."""
    entry = entry.strip()
    if not entry:
        raise UsageError("empty model entry")
    model, revision = entry, ""
    if not _exists(entry, base_dir) and "@" in entry.lstrip("@"):
        model, revision = entry.rsplit("@", 1)
        model, revision = model.strip(), revision.strip()
        if not model or not revision:
            raise UsageError(f"bad model entry {entry!r}: expected MODEL or MODEL@REVISION")
    return ModelSpec(_resolve_path(model, base_dir), revision)


def _exists(entry: str, base_dir: Path | None) -> bool:
    p = Path(entry).expanduser()
    return p.exists() or (base_dir is not None and not p.is_absolute() and (base_dir / p).exists())


def _resolve_path(model: str, base_dir: Path | None) -> str:
    """A relative folder listed in a models file is taken relative to that file when it exists there."""
    p = Path(model).expanduser()
    if base_dir is not None and not p.is_absolute() and not p.exists() and (base_dir / p).exists():
        return str(base_dir / p)
    return model


def parse_models_text(text: str, base_dir: Path | None = None, source: str = "models list") -> list[ModelSpec]:
    specs = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0]
        if line.lstrip().startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        if len(line.split()) > 1:
            raise UsageError(f"{source}:{lineno}: one model per line, got {line!r}")
        try:
            specs.append(split_revision(line, base_dir))
        except UsageError as e:
            raise UsageError(f"{source}:{lineno}: {e}") from None
    return specs


def parse_models_file(path: str | os.PathLike) -> list[ModelSpec]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read models list {path}: {e.strerror}") from None
    return parse_models_text(text, base_dir=path.parent, source=str(path))


def is_models_file(arg: str) -> bool:
    """A regular file (e.g. models.txt) rather than a model folder or hub id."""
    return Path(arg).expanduser().is_file()


def expand_revisions(specs: Iterable[ModelSpec], revisions: Iterable[str] | None) -> list[ModelSpec]:
    revs = [r.strip() for r in (revisions or []) if r.strip()]
    out: list[ModelSpec] = []
    for s in specs:
        if revs and not s.revision:
            out.extend(ModelSpec(s.model, r) for r in revs)
        else:
            out.append(s)
    return out


def parse_revisions(text: str | None) -> list[str]:
    """'step0,step1000, step143000' -> ['step0', 'step1000', 'step143000']."""
    return [r.strip() for r in (text or "").split(",") if r.strip()]


def dedupe(specs: Iterable[ModelSpec]) -> list[ModelSpec]:
    """Keep the first occurrence of each (model, revision), preserving order."""
    seen: set[ModelSpec] = set()
    out = []
    for s in specs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def gather_specs(args: Iterable[str], revisions: Iterable[str] | None = None) -> list[ModelSpec]:
    """CLI arguments (models files and/or model entries) -> the deduplicated work list."""
    specs: list[ModelSpec] = []
    for a in args:
        specs.extend(parse_models_file(a) if is_models_file(a) else [split_revision(a)])
    specs = dedupe(expand_revisions(specs, revisions))
    if not specs:
        raise UsageError("nothing to sweep: the models list is empty")
    slugs: dict[str, ModelSpec] = {}
    for s in specs:
        other = slugs.setdefault(s.slug, s)
        if other != s:
            raise UsageError(f"{other.key!r} and {s.key!r} would share the output folder {s.slug!r}; rename one")
    return specs
