"""Architecture knowledge as data: families/*.toml, the registry, the split rules.

    build_plan(config, infos, generic=False, layers=None, roles=None) -> Plan
    iter_matrices(checkpoint, plan) -> (PlannedMatrix, matrix [out, in], read_seconds)
    families(), family_for(model_type), ROLES
"""
from lrscan.arch.family import ROLES, Family
from lrscan.arch.plan import ConfigFacts, Piece, Plan, PlannedMatrix, iter_matrices
from lrscan.arch.registry import build_plan, families, family_for, layer_from_name, supported_model_types

__all__ = [
    "ROLES", "Family", "ConfigFacts", "Piece", "Plan", "PlannedMatrix", "iter_matrices",
    "build_plan", "families", "family_for", "layer_from_name", "supported_model_types",
]
