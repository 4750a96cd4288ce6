"""`liveloop simulate fraud` at a small size, run the way a user runs it: its own server, the HTTP API."""

from __future__ import annotations

import os
import re
import subprocess

from tests.support import BIN


def test_the_fraud_simulation_meets_its_targets_at_a_small_size():
    done = subprocess.run([str(BIN / "liveloop"), "simulate", "fraud", "--size", "15"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "160"})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if line.startswith("│") and cells[0] in ("SEA", "MENA", "EU", "NA", "all"):
            rows[cells[0]] = cells
    assert set(rows) == {"SEA", "MENA", "EU", "NA", "all"}, out
    # Every region has honest viewers behind shared addresses and farmers.
    for region, cells in rows.items():
        honest, farmed, tp, fp, fn = map(int, cells[1:6])
        assert honest > 0 and farmed > 0 and tp + fn == farmed, (region, cells)
        assert int(cells[8]) > 0, (region, cells)
    found = re.search(r"precision ([\d.]+)\s+recall ([\d.]+)\s+shared-address false positives ([\d.]+)%", out)
    assert found, out
    precision, recall, fp_rate = map(float, found.groups())
    assert precision >= 0.9 and recall >= 0.8 and fp_rate <= 2.0, out
    # The kinds the population is made of are each reported.
    for kind in ("carrier_nat", "dormitory", "family", "honest_burst", "device_pool", "velocity", "ring"):
        assert kind in out


def test_the_fraud_simulation_against_a_running_server_on_postgresql(server):
    """The same population through `--server-url` (the shared server of the API tests, PostgreSQL + Redis)."""
    import pytest

    from tests.support import create_tenant

    if not server.database_url.startswith("postgresql"):
        pytest.skip("the SQLite run is the test above (a server of its own)")
    key = create_tenant(server.database_url, "simulation")
    done = subprocess.run([str(BIN / "liveloop"), "simulate", "fraud", "--size", "15", "--server-url", server.url,
                           "--api-key", key], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "160"})
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"precision ([\d.]+)\s+recall ([\d.]+)\s+shared-address false positives ([\d.]+)%", done.stdout)
    assert found, done.stdout
    precision, recall, fp_rate = map(float, found.groups())
    assert precision >= 0.9 and recall >= 0.8 and fp_rate <= 2.0, done.stdout
