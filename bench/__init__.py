"""Benchmarks run by hand (not in CI); `bench.validation` holds the peer-simulator helpers."""
