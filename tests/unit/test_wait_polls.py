"""How often a request that waits for its import re-reads it (``glyphd_api.submit.poll_delay``):
closely while a small import may end at any moment, then less and less often."""

from __future__ import annotations

import time

import pytest

from glyphd_api.submit import FIRST_POLL_SECONDS, POLL_BACKOFF, poll_delay


def _schedule(until: float) -> list[tuple[float, float]]:
    """(time waited, pause before the next poll) for a wait of ``until`` seconds."""
    waited, delay, out = 0.0, FIRST_POLL_SECONDS, []
    while waited < until:
        out.append((waited, delay))
        waited += delay
        delay = poll_delay(delay, waited)
    return out


def test_a_small_import_is_seen_within_one_short_pause_of_its_end() -> None:
    early = [delay for waited, delay in _schedule(60) if waited < 2.0]
    assert early and all(delay == FIRST_POLL_SECONDS for delay in early)


def test_a_long_wait_backs_off_to_one_read_a_second() -> None:
    schedule = _schedule(60)
    young = [delay for waited, delay in schedule if 2.0 <= waited < 20.0]
    assert young == sorted(young) and max(young) == 0.25
    old = [delay for waited, delay in schedule if waited >= 25.0]
    assert old and all(delay == 1.0 for delay in old)
    early = [waited for waited, _ in schedule if waited < 2.0 - 1e-9]
    assert len(early) == 40  # 50 ms apart


def test_an_import_whose_rows_are_written_is_polled_closely_for_a_while() -> None:
    """Only the run's last steps remain: the end is near whatever the wait has lasted, for a
    while; checks that go on longer (a very large import's) are polled less and less often."""
    assert poll_delay(1.0, 45.0, wrapping_up_for=0.0) == FIRST_POLL_SECONDS
    assert poll_delay(0.25, 5.0, wrapping_up_for=2.9) == FIRST_POLL_SECONDS
    assert poll_delay(1.0, 45.0) == 1.0
    later = [poll_delay(FIRST_POLL_SECONDS, 8.0, wrapping_up_for=3.0 + n) for n in range(3)]
    assert later[0] == FIRST_POLL_SECONDS * POLL_BACKOFF and later == sorted(later)


def test_wrapping_up_is_rows_written_while_the_run_is_still_active() -> None:
    from glyphd_api.service import ImportState

    def state(stored: str, shown: str) -> ImportState:
        return ImportState({"status": shown}, [], {}, stored_status=stored)

    assert state("succeeded", "running").wrapping_up
    assert state("partially_succeeded", "running").wrapping_up
    assert not state("running", "running").wrapping_up  # rows not written yet
    assert not state("succeeded", "succeeded").wrapping_up  # the run has ended
    assert not state("failed", "running").wrapping_up


def test_a_pause_ends_when_the_stored_status_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two polls of Dagster, the status glyph's database holds is looked at every
    FIRST_POLL_SECONDS: persisted_listings writing the final one ends the pause at once."""
    import anyio

    from glyphd_api import submit

    looks: list[float] = []

    def stored(ctx: object, import_id: str) -> str:
        looks.append(time.monotonic())
        return "succeeded" if len(looks) >= 3 else "running"

    monkeypatch.setattr(submit, "stored_status", stored)
    started = time.monotonic()
    anyio.run(submit.pause_for_change, None, "i", 5.0, "running")
    assert len(looks) == 3
    assert time.monotonic() - started < 2.5  # three looks, not the pause of 5 s

    looks.clear()
    monkeypatch.setattr(submit, "stored_status", lambda ctx, import_id: looks.append(0) or "x")
    started = time.monotonic()
    anyio.run(submit.pause_for_change, None, "i", 0.2, "x")  # nothing changes: the whole pause
    assert time.monotonic() - started >= 0.19
    assert 2 <= len(looks) <= 4


def test_the_pause_after_the_rows_are_found_written_is_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long wait has backed off to 0.25 s; the poll that finds the rows written (the run's
    last steps remain) is followed by a short pause, not by the backed-off one."""
    import anyio

    from glyphd_api import service, submit
    from glyphd_api.service import ImportState

    clock = {"now": 0.0}
    pauses: list[tuple[float, str]] = []

    def load_state(_ctx: object, _import_id: str) -> ImportState:
        if clock["now"] < 5.0:
            return ImportState({"status": "running"}, [], {}, stored_status="running")
        if not any(stored == "succeeded" for _, stored in pauses):
            return ImportState({"status": "running"}, [], {}, stored_status="succeeded")
        return ImportState({"status": "succeeded"}, [], {}, stored_status="succeeded")

    async def pause(_ctx: object, _import_id: str, seconds: float, stored: str | None) -> None:
        pauses.append((seconds, stored or ""))
        clock["now"] += seconds

    monkeypatch.setattr(service, "load_state", load_state)
    monkeypatch.setattr(submit, "pause_for_change", pause)
    monkeypatch.setattr(submit.time, "monotonic", lambda: clock["now"])
    state = anyio.run(submit.wait_until_final, object(), "import", 60.0)
    assert state.record["status"] == "succeeded"
    running = [seconds for seconds, stored in pauses if stored == "running"]
    assert max(running) == 0.25  # backed off meanwhile
    assert [seconds for seconds, stored in pauses if stored == "succeeded"] == [FIRST_POLL_SECONDS]
