"""Canvas tasks for the canvas interop suites, on the pytasks app.

Loaded by a Python worker through the `imports` setting (PYTASKS_CONFIG {"imports": ["canvas_tasks"]})
and imported by canvas_client.py. The celeriac twin is test/interop/ts/canvas-tasks.ts.

Errbacks record what they were called with in the hash `canvas.errbacks` (field: the failed task's
id, value: JSON), on the Redis of PYTASKS_RECORD_URL (default the broker):
  tasks.py_on_error(request, exc, traceback)  Celery-5 style: a worker that has it calls it in-process
  tasks.py_on_error_id(task_id)               old style: called through a message with [task_id]
"""

import json

from pytasks import _redis, app


@app.task(name="tasks.tsum")
def tsum(values):
    return sum(values)


def _record(key, value):
    _redis().hset("canvas.errbacks", key, json.dumps(value))


@app.task(name="tasks.py_on_error")
def py_on_error(request, exc=None, traceback=None):
    if isinstance(request, str):
        _record(request, {"worker": "python", "style": "old", "arg": request})
        return
    _record(request.id, {
        "worker": "python",
        "style": "new",
        "request_id": request.id,
        "request_task": request.task,
        "exc_type": type(exc).__name__,
        "exc_repr": repr(exc),
        "traceback": isinstance(traceback, str) and len(traceback) > 0,
    })


@app.task(name="tasks.py_on_error_id")
def py_on_error_id(task_id):
    _record(task_id, {"worker": "python", "style": "old", "arg": task_id})
