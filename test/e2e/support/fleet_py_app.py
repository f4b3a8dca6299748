"""The Python Celery tasks of the fleet end-to-end tests.

The agent renders celeryconfig.py into the program's directory and sets CELERY_CONFIG_MODULE, so
the app carries no settings of its own. Completion is recorded like the TypeScript tasks do
(support/fleet-task-app.mjs).
"""
import time

import redis
from celery import Celery


def fleet_py_app(name, records_setting):
    """A Celery app named `name` with py.mul, recording on the Redis its setting `records_setting` names."""
    app = Celery(name)
    client = None

    def db():
        nonlocal client
        if client is None:
            client = redis.Redis.from_url(getattr(app.conf, records_setting))
        return client

    @app.task(name='py.mul', bind=True)
    def mul(self, a, b):
        pipe = db().pipeline()
        pipe.hincrby('fleet:runs', self.request.id, 1)
        pipe.hset('fleet:host', self.request.id, self.request.hostname)
        pipe.hset('fleet:at', self.request.id, str(int(time.time() * 1000)))
        pipe.execute()
        return a * b

    return app
