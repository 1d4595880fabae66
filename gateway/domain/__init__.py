"""The pure domain of the gateway: standard library and pydantic only, no I/O."""
