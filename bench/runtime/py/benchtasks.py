"""Celery app for the runtime benchmark: one no-op task whose result is stored.

PYBENCH_BROKER_URL and PYBENCH_RESULT_BACKEND point it at the benchmark's redis-server.
"""

import os

from celery import Celery
from celery.signals import worker_ready

app = Celery("benchtasks")
app.conf.update(
    broker_url=os.environ["PYBENCH_BROKER_URL"],
    result_backend=os.environ["PYBENCH_RESULT_BACKEND"],
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="bench",
    enable_utc=True,
    timezone="UTC",
)


@app.task(name="tasks.noop")
def noop():
    return None


@worker_ready.connect
def _announce_ready(**_kwargs):
    # The benchmark runs the worker at -l warning (no per-task log lines), so it announces
    # readiness itself instead of relying on Celery's INFO "ready." line.
    print("bench.ready", flush=True)
