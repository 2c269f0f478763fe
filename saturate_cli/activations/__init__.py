"""Activation kinds as data: functions, derivatives, saturated tails, init advice."""

from saturate_cli.activations.registry import KINDS, ActivationKind, get_kind
from saturate_cli.activations.tails import Tails, derive_tails
from saturate_cli.activations.book import TailBook

__all__ = ["KINDS", "ActivationKind", "TailBook", "Tails", "derive_tails", "get_kind"]
