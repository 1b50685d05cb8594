"""The API reaches the code location only through ``glyph_assets.contract``: loading it must not
load the Dagster definitions (assets, jobs, partitions, sensors), which cost seconds and tie the
API's process to the pipeline's code."""

from __future__ import annotations

import json
import subprocess
import sys

CODE_LOCATION = (
    "glyph_assets.assets",
    "glyph_assets.checks",
    "glyph_assets.definitions",
    "glyph_assets.io_managers",
    "glyph_assets.jobs",
    "glyph_assets.partitions",
    "glyph_assets.schedules",
    "glyph_assets.sensors",
)


def test_the_api_does_not_import_the_code_location() -> None:
    script = "import json, sys, glyphd_api.app; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "glyph_assets.contract" in loaded
    assert [m for m in loaded if m.startswith(CODE_LOCATION)] == []
