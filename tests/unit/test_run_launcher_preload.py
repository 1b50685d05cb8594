"""What the warm run launcher's fork server imports besides the code: the module behind the
launching process's console script, which every forked worker would otherwise import again."""

from __future__ import annotations

import pytest

from glyph_assets.run_launcher import entry_point_modules


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/venv/bin/dagster-webserver", ["dagster_webserver.cli"]),
        ("/venv/bin/dagster-daemon", ["dagster._daemon.cli"]),
        ("/venv/bin/no-such-script", []),
        ("", []),
    ],
)
def test_the_launching_script_is_preloaded(
    monkeypatch: pytest.MonkeyPatch, argv0: str, expected: list[str]
) -> None:
    monkeypatch.setattr("sys.argv", [argv0])
    assert entry_point_modules() == expected
