"""Errors that reach the user as one line and a non-zero exit code (see lrscan.cli.main)."""


class LrscanError(Exception):
    """An expected failure: bad input, missing files, unsupported architecture. Exit code 1."""

    exit_code = 1


class UsageError(LrscanError):
    """Invalid arguments or hyperparameters. Exit code 2 (like typer/click usage errors)."""

    exit_code = 2


class UnsupportedArchitecture(LrscanError):
    """config.json's model_type has no family description (and --generic was not given)."""


class WeightsError(LrscanError):
    """Weights are missing, truncated, corrupt, unsafe or inconsistent with the config."""


class ModelNotFound(LrscanError):
    """A hub id that cannot be resolved (offline and not cached, unknown id, unknown revision)."""
