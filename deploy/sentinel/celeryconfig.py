# The same connection for a Python Celery 5.2 worker or client (`celery -A proj --config celeryconfig ...`).
broker_url = "sentinel://:celeriac-example-pw@127.0.0.1:26391/0;sentinel://127.0.0.1:26392;sentinel://127.0.0.1:26393"
result_backend = "sentinel://:celeriac-example-pw@127.0.0.1:26391/1;sentinel://127.0.0.1:26392;sentinel://127.0.0.1:26393"
broker_transport_options = {"master_name": "celeriac"}
result_backend_transport_options = {"master_name": "celeriac"}
