"""Speed and memory benchmarks of hashlearn; run them with ``python -m benchmarks``."""
