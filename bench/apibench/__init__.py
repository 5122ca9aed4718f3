"""The parts of bench/api.py, the reseller API benchmark: seeding, servers, load, checks, report."""
