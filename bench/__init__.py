"""liveloop's benchmarks (SPEC.md section 8), run from a checkout with `make bench` and `make bench-scaleout`.

They drive real `liveloop serve` processes from outside, so they live beside the product, not in it:
hotpaths.py (share link, ingestion), live.py (leaderboard, viewer streams), scaleout.py (PostgreSQL
with one and two processes, Redis leaderboard); __main__.py runs the first two and writes
docs/benchmarks.md.
"""
