"""Captures what Celery 5.2 publishes for nested canvases, with no worker: for the wire-parity suite.

Usage: python3 canvas_capture.py <redis url without db> '<json {"name": node}>'
A node is as in canvas_client.py: a spec {"name", "args", "immutable"}, {"chain": [node...]},
{"group": [node...]}, {"chord": [node...], "body": node}, or {"chunks": {"name", "it", "n"}}; a
top node may carry "link" and "link_error" specs, given to its apply_async. Every task goes to the default queue
`celery` of db 4 (results on db 5), which no worker of the suite reads. For each canvas it prints
one JSON line: {"shape", "type", "tuple", "messages", "backend", "step2"} where "messages" are the
published messages (task, id, args, kwargs, group, group_index, root_id, parent_id, embed),
"backend" the string keys set (chord sizes), and "step2" what a worker sends next, as Celery's
worker does: for a message with a chain, `signature(chain.pop()).apply_async((7,), chain=chain)`;
for the last chord header part, `signature(chord).delay([1, 2])`; a next step Celery itself cannot
send is {"error": repr}.
"""

import base64
import copy
import json
import sys

from celery import Celery, chain, chord, group, signature

URL = sys.argv[1]
app = Celery("capture", broker=URL + "/4", backend=URL + "/5")
broker = app.connection_for_write().default_channel.client
backend = app.backend.client


def _stub(*args, **kwargs):
    return None


def node(n):
    if "chunks" in n:
        spec = n["chunks"]
        task = app.tasks[spec["name"]] if spec["name"] in app.tasks else app.task(name=spec["name"])(_stub)
        return task.chunks(spec["it"], spec["n"])
    if "chain" in n:
        return chain(*[node(x) for x in n["chain"]])
    if "group" in n:
        return group([node(x) for x in n["group"]])
    if "chord" in n:
        return chord([node(x) for x in n["chord"]], node(n["body"]))
    return app.signature(n["name"], args=n.get("args", []), immutable=n.get("immutable", False))


def read():
    out = []
    for raw in reversed(broker.lrange("celery", 0, -1)):
        m = json.loads(raw)
        h = m["headers"]
        args, kwargs, embed = json.loads(base64.b64decode(m["body"]))
        out.append({"task": h["task"], "id": h["id"], "args": args, "kwargs": kwargs, "group": h.get("group"),
                    "group_index": h.get("group_index"), "root_id": h.get("root_id"),
                    "parent_id": h.get("parent_id"), "embed": embed})
    broker.delete("celery")
    return out


def main():
    for name, n in json.loads(sys.argv[2]).items():
        broker.flushdb()
        backend.flushdb()
        callbacks = {k: node(n[k]) for k in ("link", "link_error") if k in n}
        result = node(n).apply_async(**callbacks)
        messages = read()
        keys = {k.decode(): backend.get(k).decode() for k in backend.keys("*") if backend.type(k) == b"string"}
        step2 = []
        parts = [m for m in messages if m["embed"].get("chord")]
        for m in copy.deepcopy(messages):
            rest = list(m["embed"].get("chain") or [])
            if rest:
                try:
                    signature(rest.pop(), app=app).apply_async((7,), chain=rest)
                    step2.append(read())
                except Exception as exc:  # Celery's own worker would fail the same way: say so
                    step2.append({"error": repr(exc)})
            elif parts and m["id"] == parts[-1]["id"]:
                signature(m["embed"]["chord"], app=app).delay([1, 2])
                step2.append(read())
        print(json.dumps({"shape": name, "type": type(result).__name__, "tuple": result.as_tuple(),
                          "messages": messages, "backend": keys, "step2": step2}), flush=True)


if __name__ == "__main__":
    main()
