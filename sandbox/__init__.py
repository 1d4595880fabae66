"""Simulated parties (banks, tax bureau; utilities later): real loopback servers with fault injection."""
