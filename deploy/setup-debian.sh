#!/usr/bin/env bash
# Installs what Celeriac and its tests need on a Debian machine, and only what is missing:
# redis-server (the broker our programs and tests start) and redis-sentinel (the Sentinel failover
# test and deploy/sentinel/), Debian's Python Celery with its Redis
# and msgpack support (the live peer of the interop tests and of `celery-worker` programs), and
# chromium (the web console's browser tests), and rabbitmq-server with python3-amqp (the RabbitMQ
# broker of the AMQP transport's tests, and kombu's pyamqp transport for the Python peer); it starts
# RabbitMQ when it is not running. README command 1 and .ci/run both call this, so a
# newcomer's machine and CI cannot drift apart.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
/usr/bin/python3 -c 'import celery' >/dev/null 2>&1 || need+=(python3-celery)
/usr/bin/python3 -c 'import redis' >/dev/null 2>&1 || need+=(python3-redis)
/usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1 || need+=(python3-msgpack)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
/usr/bin/python3 -c 'import amqp' >/dev/null 2>&1 || need+=(python3-amqp)

# Root runs the commands itself; anyone else goes through sudo, asked for only when something must be done.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup-debian: need root or sudo to run: $*" >&2
    exit 1
  fi
}

if [ ${#need[@]} -eq 0 ]; then
  echo "setup-debian: everything is installed"
else
  echo "setup-debian: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# The AMQP tests need RabbitMQ at 127.0.0.1:5672 (guest/guest); each test makes its own vhost.
if ! as_root rabbitmqctl status >/dev/null 2>&1; then
  echo "setup-debian: starting rabbitmq-server"
  as_root rabbitmq-server -detached
  as_root rabbitmqctl await_startup --timeout 120 >/dev/null
fi
