"""What a run prints to the stack's logs: its messages (INFO and above), not Dagster's DEBUG
line for every event, which stay in the event log (the UI's run page, the API's job status)."""

from __future__ import annotations

import httpx

from tests.support.imports import TWO_DTO_ROWS
from tests.support.stack import RunningStack


def test_a_run_logs_its_messages_but_not_a_line_per_event(running_stack: RunningStack) -> None:
    with httpx.Client(base_url=running_stack.api_url, timeout=120) as api:
        done = api.post("/api/persist/listings", json=TWO_DTO_ROWS)
        assert done.status_code == 200, done.text
        summary = api.get(f"/api/imports/{done.json()['import_id']}").json()
        run_id = summary["runs"][-1]["run_id"]
        job = api.get(f"/api/jobs/{run_id}/status")
    lines = [
        line
        for log in sorted((running_stack.home / "stack").glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if run_id in line
    ]
    assert any("client scores read on the 0-1 scale" in line for line in lines), lines
    assert not [line for line in lines if " - DEBUG - " in line]
    assert job.status_code == 200, job.text  # read from the run's events in Dagster
    assert job.json()["progress"]["assets_done"] == job.json()["progress"]["assets_total"] == 5
