"""Python twin of test/chaos/mixed-eta-tasks.mjs for test/chaos/mixed-fleet-eta-kills.test.ts.

`tasks.finish` sleeps `ms` milliseconds, then records its completion per task id: HINCRBY
`mixed:runs` <id> and RPUSH `mixed:log` "<id> py <pid> <ms since epoch> <stored state at start>",
where the stored state is the task's result document status when the run began ('-': none).
Settings come from PYTASKS_CONFIG (JSON), like test/interop/py/pytasks.py.
"""

import json
import os
import time

import redis
from celery import Celery

app = Celery("mixed_eta_tasks")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    enable_utc=True,
    timezone="UTC",
    broker_connection_retry_on_startup=True,
)
app.conf.update(json.loads(os.environ.get("PYTASKS_CONFIG", "{}")))

_clients = {}


def _client(url):
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


@app.task(name="tasks.finish", bind=True)
def finish(self, ms):
    doc = _client(app.conf.result_backend).get("celery-task-meta-" + self.request.id)
    stored = "-" if doc is None else json.loads(doc).get("status", "?")
    time.sleep(ms / 1000.0)
    db = _client(app.conf.broker_url)
    pipe = db.pipeline()
    pipe.hincrby("mixed:runs", self.request.id, 1)
    pipe.rpush("mixed:log", "%s py %d %d %s" % (self.request.id, os.getpid(), int(time.time() * 1000), stored))
    pipe.execute()
    return "python"
