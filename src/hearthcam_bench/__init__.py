"""Benchmarks behind `hearthcam bench` (see docs/benchmarks.md)."""
