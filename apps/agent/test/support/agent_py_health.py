"""Python Celery tasks of the agent's task-events test (settings come from the agent's celeryconfig.py)."""
from celery import Celery

app = Celery('agent_py_health')


@app.task(name='apy.ok')
def ok(x):
    return x


@app.task(name='apy.boom')
def boom():
    raise ValueError('boom')
