"""Support for bench/bench_api.py: a bench-only register of many units, valid signed submissions, the load."""
