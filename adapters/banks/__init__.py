"""Bank core-system adapters: one module per wire format (or per bank with its own quirks)."""
