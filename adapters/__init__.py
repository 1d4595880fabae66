"""Adapters to outside parties (banks, tax bureau, utilities) behind the ports in `gateway.ports`."""
