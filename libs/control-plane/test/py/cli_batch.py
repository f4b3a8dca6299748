"""Runs several `celery -A ctlapp ...` command lines in one Python process (one start-up cost).

stdin: a JSON list of argv lists (without the leading "celery"); stdout: a JSON list of
{"argv", "exit_code", "output"}. Each line goes through Celery's own click entry point, exactly
what `python3 -m celery` runs, with its output captured.
"""

import json
import sys

from click.testing import CliRunner

from celery.bin.celery import celery

runs = []
runner = CliRunner()
for argv in json.load(sys.stdin):
    result = runner.invoke(celery, argv, catch_exceptions=True)
    runs.append({"argv": argv, "exit_code": result.exit_code, "output": result.output})
print(json.dumps(runs))
