"""A tiny job for the run-launcher tests: one op that reports its process, then sleeps, fails or
succeeds as its run config says. Importable by module name, so a fork server can preload it."""

import os
import time

from dagster import Config, OpExecutionContext, in_process_executor, job, op


class ProbeConfig(Config):
    sleep_seconds: float = 0.0
    fail: bool = False


@op
def probe(context: OpExecutionContext, config: ProbeConfig) -> int:
    """Logs the pid it runs in, then behaves as configured."""
    context.log.info(f"probe pid {os.getpid()}")
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
