"""Celery app for the control-plane tests: the broker comes from CTL_BROKER_URL."""

import os
import time

from celery import Celery

app = Celery("ctlapp")
app.conf.update(
    broker_url=os.environ.get("CTL_BROKER_URL", "redis://127.0.0.1:6379/0"),
    # A RabbitMQ broker keeps its results in Redis: CTL_RESULT_BACKEND names it.
    result_backend=os.environ.get("CTL_RESULT_BACKEND")
    or os.environ.get("CTL_BROKER_URL", "redis://127.0.0.1:6379/0"),
    accept_content=["json"],
    task_serializer="json",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="ctlapp.add")
def add(a, b):
    return a + b


@app.task(name="ctlapp.sleep")
def nap(seconds):
    time.sleep(seconds)
    return seconds
