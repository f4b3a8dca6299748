"""Python Celery tasks of the task-health end-to-end test (settings come from the agent's celeryconfig.py)."""
from celery import Celery

app = Celery('health_py')


@app.task(name='hpy.echo')
def echo(x):
    return x
