"""Sends one remote-control command through kombu's Mailbox and prints the replies as JSON.

usage: mailbox_call.py <method> [<json arguments> [<timeout s> [<destination,...>]]]
kombu's Mailbox sends any method name, so this also reaches commands the celery CLI refuses.
"""

import json
import sys

from ctlapp import app

method = sys.argv[1]
arguments = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
destination = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else None

with app.connection_for_write() as conn:
    mailbox = app.control.mailbox(conn)
    replies = mailbox._broadcast(method, arguments, destination=destination, reply=True, timeout=timeout)
print(json.dumps(replies))
