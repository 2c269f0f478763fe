"""Activation kinds as data: functions, derivatives, saturated tails, init advice."""

from saturate_cli.activations.registry import KINDS, ActivationKind, get_kind
from saturate_cli.activations.tails import Tails, derive_tails

__all__ = ["KINDS", "ActivationKind", "Tails", "derive_tails", "get_kind"]
