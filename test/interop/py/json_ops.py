"""What the JSON-operation clients (client.py, canvas_client.py) share: their command line.

Each takes a JSON list of operations as its argument (or on stdin) and prints one JSON line per
operation, what its `run` returned.
"""

import json
import sys


def run_json_ops(run):
    """Runs each operation of the command line's JSON list with `run`, printing its answer as a JSON line."""
    text = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    for op in json.loads(text):
        print(json.dumps(run(op), default=repr), flush=True)
