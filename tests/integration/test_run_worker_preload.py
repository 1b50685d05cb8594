"""What the warm run launcher's fork server does once for every run worker
(``glyph_assets.run_worker_preload``): after it, the steps of small imports of both kinds import
nothing more, so no forked worker pays for a first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glyph_assets.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# Run in a fresh interpreter: the preload first, as the fork server does, then a raw and a scored
# import materialized in process, printing the modules the steps imported after the preload.
SCRIPT = r"""
import json, sys
from pathlib import Path
import glyph_assets.run_worker_preload
before = set(sys.modules)
from dagster import DagsterInstance
from glyph_assets.contract import IMPORTS_PARTITIONS_NAME
from glyph_assets.imports import file_chunks, register_import
from glyph_assets.settings import get_settings
from tests.support.materialize import materialize_import

outcomes = []
with DagsterInstance.ephemeral() as instance:
    for path in sys.argv[1:]:
        source = Path(path)
        registered = register_import(
            file_chunks(source), filename=source.name, source="test", settings=get_settings()
        )
        instance.add_dynamic_partitions(IMPORTS_PARTITIONS_NAME, [registered.import_id])
        outcomes.append(materialize_import(instance, get_settings(), registered.import_id).success)
print(json.dumps({"success": outcomes, "imported": sorted(set(sys.modules) - before)}))
"""


def test_small_imports_import_nothing_after_the_preload(
    glyph_env: Settings, tmp_path: Path
) -> None:
    raw = tmp_path / "listings.csv"
    raw.write_text(
        "title,price,url\n"
        "NVIDIA GeForce RTX 4090 24GB Founders Edition,$1599.00,https://example.com/a\n"
        "AMD Radeon RX 7900 XTX 24GB,899 EUR,https://example.com/b\n"
        "Empty box for RTX 3080,$20,https://example.com/c\n",
        encoding="utf-8",
    )
    scored = tmp_path / "scored.json"
    scored.write_text(
        json.dumps(
            [
                {"canonical_model": "RTX_4090", "price": 1599.0, "score": 0.91},
                {"canonical_model": "A100_PCIE_80GB", "price": 9000, "score": 0.5},
                {"canonical_model": "L4", "price": 2100.5, "score": 0.2},
            ]
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(raw), str(scored)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["success"] == [True, True]
    # What only the test harness imports: Dagster's in-process ``materialize`` and ephemeral
    # instance (a worker runs the run body instead) and this test's helpers.
    harness = ("dagster.", "tests")
    steps = [
        name for name in result["imported"] if name != "dagster" and not name.startswith(harness)
    ]
    assert steps == []


def test_a_failing_warm_up_leaves_the_fork_server_running(glyph_env: Settings) -> None:
    """The fork server imports the preload: a warm-up that fails (here: no registry) is logged,
    and the workers pay for first use themselves, where a real problem fails its run."""
    done = subprocess.run(
        [sys.executable, "-c", "import glyph_assets.run_worker_preload; print('preloaded')"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GLYPH_REGISTRY_PATH": str(glyph_env.data_dir / "no_such_registry.csv"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        },
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "preloaded"
    assert "run worker warm-up failed" in done.stderr
    assert "file not found" in done.stderr
