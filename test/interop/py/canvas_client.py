"""A Python Celery client for the canvas suites: runs a JSON list of canvas operations, prints JSON lines.

Usage: python3 canvas_client.py '<json ops>'   (config from PYTASKS_CONFIG as for pytasks.py)

A signature spec is {"name", "args", "kwargs", "options", "immutable", "on_error": <spec>}.
Operations ("wait": seconds to wait for the result; without it nothing is awaited):
  {"op": "chord", "header": [spec...], "body": spec, "options": {...}, "wait": 10}
  {"op": "group", "tasks": [spec...], "options": {...}, "save": bool, "wait": 10}
  {"op": "map" | "starmap", "task": "tasks.add", "it": [...], "options": {...}, "wait": 10}
  {"op": "chunks", "task": "tasks.add", "it": [[...]...], "n": 2, "options": {...}, "wait": 10}
  {"op": "send", "name", "args", "kwargs", "options": {..., "link_error": spec}, "wait": 10}
  {"op": "canvas", "canvas": node, "wait": 10, "sleep": 0}   a nested canvas; node is a spec,
      {"chain": [node...]}, {"group": [node...]}, {"chord": [node...], "body": node} or
      {"chunks": {"name", "it", "n"}, "options": {...}}; prints its
      as_tuple() as "tuple" and the result's type as "type"; "sleep" seconds pass before the get
  {"op": "get", "id", "wait": 10}            {"op": "forget", "id"}   {"op": "state", "id"}
  {"op": "restore_group", "id", "wait": 10}  {"op": "save_group", "id", "ids": [...]}
Each prints {"ref", "op", "id", "ids", "group_id", "state", "ok", "result" | "exc_type", "exc_repr", ...}.
"""

import time

from celery import chain, chord, group, signature
from celery.result import AsyncResult, GroupResult

import canvas_tasks  # noqa: F401  (registers the canvas tasks on the app)
from json_ops import run_json_ops
from pytasks import app


def _sig(spec):
    sig = signature(spec["name"], args=spec.get("args", []), kwargs=spec.get("kwargs", {}),
                    options=spec.get("options", {}), immutable=spec.get("immutable", False), app=app)
    if spec.get("on_error"):
        sig.on_error(_sig(spec["on_error"]))
    return sig


def _node(node):
    if "chunks" in node:
        spec = node["chunks"]
        return app.tasks[spec["name"]].chunks(spec["it"], spec["n"]).set(**node.get("options", {}))
    if "chain" in node:
        return chain(*[_node(n) for n in node["chain"]])
    if "group" in node:
        return group([_node(n) for n in node["group"]])
    if "chord" in node:
        return chord([_node(n) for n in node["chord"]], _node(node["body"]))
    return _sig(node)


def _wait(result, seconds, propagate=True):
    out = {}
    try:
        value = result.get(timeout=seconds, propagate=propagate, disable_sync_subtasks=False)
        out.update(ok=True, result=value)
    except Exception as exc:  # the point is to report what a Python caller would see
        out.update(ok=False, exc_type=type(exc).__name__, exc_module=type(exc).__module__,
                   exc_args=[repr(a) if not isinstance(a, (str, int, float)) else a for a in exc.args],
                   exc_repr=repr(exc))
    if isinstance(result, GroupResult):
        out.update(state=None, completed=result.completed_count(), ready=result.ready(),
                   successful=result.successful())
    else:
        out.update(state=result.state)
    return out


def _ids(result):
    if isinstance(result, GroupResult):
        return [_ids(r) for r in result.results]
    return result.id


def run(op):
    kind = op["op"]
    out = {"ref": op.get("ref"), "op": kind}
    options = op.get("options", {})
    if kind == "chord":
        result = chord([_sig(s) for s in op["header"]])(_sig(op["body"]), **options)
        out["group_id"] = result.parent.id if result.parent is not None else None
        out["ids"] = _ids(result.parent) if result.parent is not None else []
    elif kind == "canvas":
        result = _node(op["canvas"]).apply_async(**options)
        out["type"] = type(result).__name__
        out["tuple"] = result.as_tuple()
        if op.get("sleep"):
            time.sleep(op["sleep"])
    elif kind == "group":
        result = group([_sig(s) for s in op["tasks"]]).apply_async(**options)
        if op.get("save"):
            result.save()
        out["ids"] = _ids(result)
    elif kind in ("map", "starmap"):
        task = app.tasks[op["task"]]
        sig = task.map(op["it"]) if kind == "map" else task.starmap(op["it"])
        result = sig.apply_async(**options)
    elif kind == "chunks":
        result = app.tasks[op["task"]].chunks(op["it"], op["n"]).apply_async(**options)
        out["ids"] = _ids(result)
    elif kind == "send":
        opts = dict(options)
        for key in ("link", "link_error"):
            if key in opts:
                opts[key] = _sig(opts[key])
        result = app.send_task(op["name"], args=op.get("args", []), kwargs=op.get("kwargs", {}), **opts)
    elif kind == "get":
        result = AsyncResult(op["id"], app=app)
    elif kind == "forget":
        AsyncResult(op["id"], app=app).forget()
        out["id"] = op["id"]
        out["state"] = AsyncResult(op["id"], app=app).state
        return out
    elif kind == "state":
        out["id"] = op["id"]
        out["state"] = AsyncResult(op["id"], app=app).state
        return out
    elif kind == "restore_group":
        result = GroupResult.restore(op["id"], app=app)
        if result is None:
            out.update(id=op["id"], found=False)
            return out
        out.update(found=True, ids=_ids(result))
    elif kind == "save_group":
        result = GroupResult(op["id"], [AsyncResult(i, app=app) for i in op["ids"]], app=app)
        result.save()
        out["id"] = op["id"]
        return out
    else:
        raise SystemExit(f"canvas_client.py: unknown op {kind!r}")
    out["id"] = result.id
    if op.get("wait") is not None:
        out.update(_wait(result, op["wait"], op.get("propagate", True)))
    return out


if __name__ == "__main__":
    run_json_ops(run)
