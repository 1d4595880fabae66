"""Utility provider adapters (水电气网): one module per wire format, built from `Settings.utilities`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import AdapterContext
from adapters.registry import build_adapter
from gateway.ports.utilities import UtilityProvider

__all__ = ["build_utility_providers"]


def build_utility_providers(
    entries: Mapping[str, Mapping[str, Any]], context: AdapterContext
) -> dict[str, UtilityProvider]:
    """Every configured provider (participant code → entry such as
    `{"adapter": "adapters.utilities.water:WaterWebhookProvider", "url": …, "certificate_pem": …}`), each
    validated and checked against the UtilityProvider port; start and close them with the app."""
    return {
        code: build_adapter(f"utilities.{code}", code, entry, UtilityProvider, context)  # type: ignore[type-abstract]
        for code, entry in entries.items()
    }
