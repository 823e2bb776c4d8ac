"""Tools run from the repository's root with `python -m scripts.<name>`: operator tools and the benchmarks."""
