"""Celery app for the interop, chaos and benchmark suites.

Configured entirely from the environment so that one module serves every test:
  PYTASKS_CONFIG      JSON object of Celery settings (broker_url, result_backend, task_routes,
                      accept_content, task_serializer, broker_transport_options, task_acks_late, ...)
  PYTASKS_RECORD_URL  Redis URL where tasks.record / tasks.order keep their counters
                      (defaults to the broker URL)
  PYTASKS_WORKER_TAG  what tasks.record returns, so a test sees which worker ran a task
"""

import json
import os
import time

import redis
from celery import Celery

app = Celery("pytasks")
app.conf.update(
    broker_url="redis://127.0.0.1:6379/0",
    result_backend="redis://127.0.0.1:6379/1",
    task_serializer="json",
    result_serializer="json",
    accept_content=["json", "msgpack"],
    enable_utc=True,
    timezone="UTC",
    broker_connection_retry_on_startup=True,
)
app.conf.update(json.loads(os.environ.get("PYTASKS_CONFIG", "{}")))

_record_client = None


def _redis():
    """One Redis connection per process for the bookkeeping tasks."""
    global _record_client
    if _record_client is None:
        url = os.environ.get("PYTASKS_RECORD_URL") or app.conf.broker_url
        _record_client = redis.Redis.from_url(url)
    return _record_client


class InteropError(Exception):
    """A custom exception: its module is `pytasks`, so a foreign reader must synthesize it."""


@app.task(name="tasks.add")
def add(a, b):
    return a + b


@app.task(name="tasks.mul")
def mul(a, b):
    return a * b


@app.task(name="tasks.noop")
def noop():
    return None


@app.task(name="tasks.echo")
def echo(value):
    return value


@app.task(name="tasks.echo_kwargs")
def echo_kwargs(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


@app.task(name="tasks.fail")
def fail():
    raise ValueError("bad value", 42)


@app.task(name="tasks.fail_custom")
def fail_custom(message="custom failure"):
    raise InteropError(message, 7)


@app.task(name="tasks.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="tasks.stamp")
def stamp():
    """Unix time (seconds) at which the task body ran."""
    return time.time()


@app.task(name="tasks.retry_until", bind=True, max_retries=5)
def retry_until(self, times, countdown=0.5):
    """Retries `times` times, then returns how many retries it took."""
    if self.request.retries < times:
        raise self.retry(countdown=countdown)
    return self.request.retries


@app.task(name="tasks.record", bind=True)
def record(self, tag=None):
    """Counts runs per task id in the hash `interop.runs`, so exactly-once can be checked."""
    _redis().hincrby("interop.runs", self.request.id, 1)
    return os.environ.get("PYTASKS_WORKER_TAG", "python")


@app.task(name="tasks.record_sleep", bind=True)
def record_sleep(self, seconds):
    """tasks.record, then sleeps: keeps tasks in flight for the shutdown and crash tests."""
    _redis().hincrby("interop.runs", self.request.id, 1)
    time.sleep(seconds)
    return os.environ.get("PYTASKS_WORKER_TAG", "python")


@app.task(name="tasks.order")
def order(tag):
    """Appends `tag` to the list `interop.order`, so execution order can be checked."""
    _redis().rpush("interop.order", tag)
    return tag


@app.task(name="tasks.request_info", bind=True)
def request_info(self):
    delivery = self.request.delivery_info or {}
    return {
        "id": self.request.id,
        "retries": self.request.retries,
        "root_id": self.request.root_id,
        "parent_id": self.request.parent_id,
        "priority": delivery.get("priority"),
        "routing_key": delivery.get("routing_key"),
    }
