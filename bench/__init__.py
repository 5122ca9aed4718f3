"""Load benchmarks (not tests). A package so that gunicorn can load `bench.settings` and its reference views."""
