"""Python Celery tasks of the AMQP fleet end-to-end test (test/e2e/amqp-fleet.test.ts, fleet_py_app.py).

The agent renders celeryconfig.py (broker_url amqp://); completion is recorded on the Redis of the
result backend.
"""
from fleet_py_app import fleet_py_app

app = fleet_py_app('amqp_fleet_py', 'result_backend')


@app.task(name='py.fail')
def fail():
    """Fails on purpose: the agent's health summary counts it from the task-failed event."""
    raise ValueError('py.fail fails on purpose')
