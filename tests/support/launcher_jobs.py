"""A tiny job for the run-launcher tests: one op that reports its process, then sleeps, fails or
succeeds as its run config says. Importable by module name, so a fork server can preload it."""

import os
import signal
import time

from dagster import Config, OpExecutionContext, in_process_executor, job, op


class ProbeConfig(Config):
    sleep_seconds: float = 0.0
    fail: bool = False
    # The first SIGTERM does nothing, as when Dagster raises the interrupt inside a garbage
    # collector's callback and Python ignores it; the next one interrupts as usual.
    lose_first_interrupt: bool = False


@op
def probe(context: OpExecutionContext, config: ProbeConfig) -> int:
    """Logs the pid it runs in, then behaves as configured."""
    if config.lose_first_interrupt:
        dagsters = signal.getsignal(signal.SIGTERM)

        def lost(_signo: int, _frame: object) -> None:
            signal.signal(signal.SIGTERM, dagsters)

        signal.signal(signal.SIGTERM, lost)
    context.log.info(f"probe pid {os.getpid()}")
    context.log.info(f"probe niceness {os.nice(0)}")
    deadline = time.monotonic() + config.sleep_seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    if config.fail:
        raise RuntimeError("probe asked to fail")
    return os.getpid()


@job(executor_def=in_process_executor)
def probe_job() -> None:
    probe()


def define_probe_job() -> object:
    """What ``reconstructable`` rebuilds in the run worker."""
    return probe_job
