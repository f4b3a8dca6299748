"""Python Celery tasks of the fleet end-to-end test.

The agent renders celeryconfig.py into the program's directory and sets CELERY_CONFIG_MODULE, so
this app carries no settings of its own. Completion is recorded like the TypeScript tasks do.
"""
import time

import redis
from celery import Celery

app = Celery('fleet_py')
_db = None


def db():
    global _db
    if _db is None:
        _db = redis.Redis.from_url(app.conf.broker_url)
    return _db


@app.task(name='py.mul', bind=True)
def mul(self, a, b):
    pipe = db().pipeline()
    pipe.hincrby('fleet:runs', self.request.id, 1)
    pipe.hset('fleet:host', self.request.id, self.request.hostname)
    pipe.hset('fleet:at', self.request.id, str(int(time.time() * 1000)))
    pipe.execute()
    return a * b
