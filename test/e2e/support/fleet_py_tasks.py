"""Python Celery tasks of the fleet end-to-end tests on a Redis broker (fleet_py_app.py).

Completion is recorded on the broker's Redis.
"""
from fleet_py_app import fleet_py_app

app = fleet_py_app('fleet_py', 'broker_url')
