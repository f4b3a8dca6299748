"""Python Celery tasks of the AMQP fleet end-to-end test (test/e2e/amqp-fleet.test.ts).

The agent renders celeryconfig.py (broker_url amqp://) into the program's directory and sets
CELERY_CONFIG_MODULE, so this app carries no settings of its own. Completion is recorded on the
Redis of the result backend, as the TypeScript tasks do.
"""
import time

import redis
from celery import Celery

app = Celery('amqp_fleet_py')
_db = None


def db():
    global _db
    if _db is None:
        _db = redis.Redis.from_url(app.conf.result_backend)
    return _db


@app.task(name='py.mul', bind=True)
def mul(self, a, b):
    pipe = db().pipeline()
    pipe.hincrby('fleet:runs', self.request.id, 1)
    pipe.hset('fleet:host', self.request.id, self.request.hostname)
    pipe.hset('fleet:at', self.request.id, str(int(time.time() * 1000)))
    pipe.execute()
    return a * b
