"""The operations files hold together: the dashboard reads metrics that exist, docs/operations.md lists
every metric, and the systemd examples use settings and options liveloop has."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liveloop.ops import metrics
from liveloop.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SYSTEMD = DOCS / "deploy" / "systemd"


def exposed() -> dict[str, set[str]]:
    """Family name -> the sample names a scrape shows for it."""
    names: dict[str, set[str]] = {}
    for family in metrics.REGISTRY.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(family.type, ("",))
        names[family.name] = {family.name + suffix for suffix in suffixes}
    return names


def test_the_dashboard_reads_only_metrics_that_exist():
    dashboard = json.loads((DOCS / "grafana" / "liveloop.json").read_text())
    samples = set().union(*exposed().values())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    read = set()
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            read |= set(re.findall(r"\b((?:liveloop|process)_[a-z_]+)\b", target["expr"]))
    assert read and read <= samples, read - samples
    # Every liveloop family is on the dashboard but the version's.
    families = {name for name in exposed() if name.startswith("liveloop_") and name != "liveloop_build_info"}
    assert {name for name in families if not exposed()[name] & read} == set()


def test_the_operations_guide_lists_every_metric():
    guide = (DOCS / "operations.md").read_text()
    listed = set(re.findall(r"^\| `(liveloop_[a-z_]+)`", guide, re.M))
    # Counters by the name a scrape shows (`_total`), histograms and gauges by their family's.
    wanted = {f"{family.name}_total" if family.type == "counter" else family.name
              for family in metrics.REGISTRY.collect() if family.name.startswith("liveloop_")}
    assert listed == wanted, (wanted - listed, listed - wanted)


def test_the_systemd_examples_use_settings_and_options_that_exist():
    fields = {f"LIVELOOP_{name.upper()}" for name in Settings.model_fields}
    for env in SYSTEMD.glob("*.env"):
        names = re.findall(r"^(LIVELOOP_[A-Z_]+)=", env.read_text(), re.M)
        assert names and set(names) <= fields, (env.name, set(names) - fields)
    serve_help = subprocess.run([str(Path(sys.executable).parent / "liveloop"), "serve", "--help"],
                                capture_output=True, text=True, check=True, env={"COLUMNS": "200"}).stdout
    for unit in SYSTEMD.glob("*.service"):
        for command in re.findall(r"^ExecStart=\S+/liveloop (.+)$", unit.read_text(), re.M):
            subcommand, *options = command.split()
            if subcommand == "serve":
                for option in options:
                    assert option in serve_help, option


def test_the_systemd_units_are_valid_for_systemd(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for unit in SYSTEMD.glob("*.service"):
        # A template is checked as one of its instances.
        target = tmp_path / unit.name.replace("@.", "@1.")
        target.write_text(unit.read_text())
        run = subprocess.run([analyze, "verify", str(target)], capture_output=True, text=True)
        complaints = [line for line in (run.stdout + run.stderr).splitlines()
                      if line.strip() and "is not executable" not in line]  # liveloop is not installed in /opt here
        assert complaints == [], complaints
