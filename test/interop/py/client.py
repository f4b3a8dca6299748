"""A Python Celery client for the test suites: runs a JSON list of operations, prints JSON lines.

Usage: python3 client.py '<json ops>'   (or the ops on stdin)
Config comes from PYTASKS_CONFIG exactly as for the worker (see pytasks.py).

Operations:
  {"op": "send", "name": "tasks.add", "args": [2, 3], "kwargs": {}, "options": {...}, "wait": 10}
  {"op": "chain", "steps": [{"name", "args", "kwargs"}...], "options": {...}, "wait": 10}
  {"op": "get", "id": "<task id>", "wait": 10}
  {"op": "send_many", "name": "tasks.record", "count": 1000, "args": [], "options": {...}}
Options are apply_async options, plus: "eta_in" (seconds from now -> eta), "expires_in"
(seconds from now, may be negative -> absolute expires), "link"/"link_error"
({"name", "args", "kwargs"}).

Each operation prints one line: {"ref", "id", "sent_at", and when waited "state", "ok",
"result" or "exc_type", "exc_module", "exc_args", "traceback"}; send_many prints {"ids": [...]}.
"""

import time
from datetime import datetime, timedelta, timezone

from celery import chain

from json_ops import run_json_ops
from pytasks import app


def _signature(spec):
    return app.signature(spec["name"], args=spec.get("args", []), kwargs=spec.get("kwargs", {}),
                         **spec.get("options", {}))


def _options(raw):
    options = dict(raw or {})
    now = datetime.now(timezone.utc)
    if "eta_in" in options:
        options["eta"] = now + timedelta(seconds=options.pop("eta_in"))
    if "expires_in" in options:
        options["expires"] = now + timedelta(seconds=options.pop("expires_in"))
    for key in ("link", "link_error"):
        if key in options:
            options[key] = _signature(options[key])
    return options


def _wait(result, seconds, propagate=True):
    out = {}
    try:
        value = result.get(timeout=seconds, propagate=propagate, disable_sync_subtasks=False)
        out.update(ok=True, result=value)
    except Exception as exc:  # the point is to report what a Python caller would see
        out.update(ok=False, exc_type=type(exc).__name__, exc_module=type(exc).__module__,
                   exc_args=list(exc.args), exc_repr=repr(exc))
    out.update(state=result.state, traceback=result.traceback)
    return out


def run(op):
    kind = op["op"]
    out = {"ref": op.get("ref"), "op": kind}
    if kind == "send":
        out["sent_at"] = time.time()
        result = app.send_task(op["name"], args=op.get("args", []), kwargs=op.get("kwargs", {}),
                               **_options(op.get("options")))
    elif kind == "chain":
        out["sent_at"] = time.time()
        result = chain(*[_signature(step) for step in op["steps"]]).apply_async(**_options(op.get("options")))
        ids, node = [], result
        while node is not None:
            ids.append(node.id)
            node = node.parent
        out["ids"] = list(reversed(ids))
    elif kind == "get":
        result = app.AsyncResult(op["id"])
    elif kind == "send_many":
        options = _options(op.get("options"))
        out["sent_at"] = time.time()
        out["ids"] = [
            app.send_task(op["name"], args=op.get("args", []), kwargs=op.get("kwargs", {}), **options).id
            for _ in range(op["count"])
        ]
        out["sent_ms"] = (time.time() - out["sent_at"]) * 1000
        return out
    else:
        raise SystemExit(f"client.py: unknown op {kind!r}; use send, chain, get or send_many")
    out["id"] = result.id
    if op.get("wait") is not None:
        out.update(_wait(result, op["wait"], op.get("propagate", True)))
    return out


if __name__ == "__main__":
    run_json_ops(run)
