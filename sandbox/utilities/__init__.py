"""Simulated utility providers: water (webhook), power (SOAP, two steps), gas (webhook, later), network (pull)."""

from sandbox.utilities.launcher import GAS, NETWORK, POWER, WATER, UtilityProviders, start_utilities

__all__ = ["GAS", "NETWORK", "POWER", "WATER", "UtilityProviders", "start_utilities"]
