"""Tasks for libs/client's test: a real Python Celery worker runs what our TypeScript client sends.

The broker and backend URLs come from CLIENT_TEST_BROKER / CLIENT_TEST_BACKEND.
"""

import os

from celery import Celery

app = Celery("clienttasks")
app.conf.update(
    broker_url=os.environ["CLIENT_TEST_BROKER"],
    result_backend=os.environ["CLIENT_TEST_BACKEND"],
    accept_content=["json", "msgpack"],
    task_serializer="json",
    result_serializer="json",
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)


@app.task(name="tasks.add")
def add(a, b):
    return a + b


@app.task(name="tasks.mul")
def mul(a, b):
    return a * b


@app.task(name="tasks.greet")
def greet(name, punctuation="!"):
    return "hello " + name + punctuation


@app.task(name="tasks.fail")
def fail(message, number):
    raise ValueError(message, number)
