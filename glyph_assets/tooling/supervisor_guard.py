"""The stack's dead-man switch: kills the stack's process groups when its supervisor vanishes.

``PR_SET_PDEATHSIG`` takes a supervisor's direct children down with it, but not their own children
(the code server's run workers, uvicorn's worker processes), which live on in the child's process
group. So every supervisor also starts this tiny process (``python -m
glyph_assets.tooling.supervisor_guard``, standard library only, in a session of its own so that a
Ctrl-C or a group kill aimed at the supervisor does not reach it) and tells it on its stdin about
every group it starts (``+PGID``) and every group it has stopped itself (``-PGID``). When stdin
reaches its end, because the supervisor exited for whatever reason, SIGKILL included, the guard
SIGKILLs every group still registered and exits. A supervisor that stopped everything itself leaves
nothing registered, so a clean exit kills nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys


def kill_groups(pgids: set[int]) -> None:
    """SIGKILL each process group (gone groups are skipped)."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def main() -> None:
    """Read ``+PGID``/``-PGID`` lines until end of input, then kill what is still registered."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor's Ctrl-C is not ours
    groups: set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        if line[:1] == "+" and line[1:].isdigit():
            groups.add(int(line[1:]))
        elif line[:1] == "-" and line[1:].isdigit():
            groups.discard(int(line[1:]))
    kill_groups(groups)


if __name__ == "__main__":
    main()
