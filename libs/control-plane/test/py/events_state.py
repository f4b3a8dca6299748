"""Captures Celery events for a while with app.events.Receiver and State(), prints a JSON summary.

usage: events_state.py <seconds> [<hostname>]
With a hostname, the capture also ends as soon as that node's worker-offline arrives.
Prints {"workers": {hostname: {...}}, "tasks": {uuid: {...}}, "types": {type: count},
"by_host": {hostname: {type: count}}, "last": {hostname: {type: timestamp of the last one}}}.
"""

import json
import sys
import time

from ctlapp import app

seconds = float(sys.argv[1])
until_offline_of = sys.argv[2] if len(sys.argv) > 2 else None
state = app.events.State()
types = {}
by_host = {}
last = {}
offline_seen = False


def on_event(event):
    global offline_seen
    types[event["type"]] = types.get(event["type"], 0) + 1
    host = by_host.setdefault(event.get("hostname", ""), {})
    host[event["type"]] = host.get(event["type"], 0) + 1
    last.setdefault(event.get("hostname", ""), {})[event["type"]] = event.get("timestamp")
    state.event(event)
    if event["type"] == "worker-offline" and event.get("hostname") == until_offline_of:
        offline_seen = True


deadline = time.time() + seconds
with app.connection() as conn:
    recv = app.events.Receiver(conn, handlers={"*": on_event})
    print("capturing", flush=True, file=sys.stderr)
    # consume() calls on_iteration before every wait of at most safety_interval: stop at the deadline.
    recv.on_iteration = lambda: setattr(recv, "should_stop", offline_seen or time.time() > deadline)
    for _ in recv.consume(safety_interval=0.25, wakeup=True):
        pass

workers = {
    name: {
        "alive": w.alive,
        "heartbeats": len(w.heartbeats),
        "sw_ident": w.sw_ident,
        "sw_ver": w.sw_ver,
        "freq": w.freq,
        "active": w.active,
        "processed": w.processed,
        "pid": w.pid,
    }
    for name, w in state.workers.items()
}
tasks = {
    uuid: {
        "state": t.state,
        "name": t.name,
        "hostname": t.worker.hostname if t.worker else None,
        "result": t.result,
        "exception": t.exception,
        "runtime": t.runtime,
        "args": t.args,
        "retries": t.retries,
    }
    for uuid, t in state.tasks.items()
}
print(json.dumps({"workers": workers, "tasks": tasks, "types": types, "by_host": by_host, "last": last}))
