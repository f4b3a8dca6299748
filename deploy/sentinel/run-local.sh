#!/usr/bin/env bash
# Starts (or stops) the example on this machine: redis-a (6391, master), redis-b (6392, replica)
# and three sentinels (26391..26393), as daemons with their files in ./.celeriac/sentinel.
# Needs Debian's redis-server and redis-sentinel (deploy/setup-debian.sh installs both).
#   deploy/sentinel/run-local.sh start | status | stop
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${CELERIAC_SENTINEL_DIR:-$PWD/.celeriac/sentinel}"
pw=celeriac-example-pw

start() {
  mkdir -p "$state/a" "$state/b"
  redis-server "$here/redis-master.conf" --dir "$state/a" --daemonize yes --pidfile "$state/a.pid" --logfile "$state/a.log"
  redis-server "$here/redis-replica.conf" --dir "$state/b" --daemonize yes --pidfile "$state/b.pid" --logfile "$state/b.log"
  for i in 1 2 3; do
    sed "s/^port 26391$/port 2639$i/" "$here/sentinel.conf" > "$state/sentinel-$i.conf"
    redis-sentinel "$state/sentinel-$i.conf" --dir "$state" --daemonize yes --pidfile "$state/sentinel-$i.pid" \
      --logfile "$state/sentinel-$i.log"
  done
  echo "started; master: $(redis-cli -p 26391 sentinel get-master-addr-by-name celeriac | paste -sd:)"
}

status() {
  for i in 1 2 3; do
    echo "sentinel 2639$i says master is $(redis-cli -p "2639$i" sentinel get-master-addr-by-name celeriac | paste -sd:)"
  done
  for port in 6391 6392; do
    echo "127.0.0.1:$port $(redis-cli -a "$pw" --no-auth-warning -p "$port" info replication 2>/dev/null | grep '^role:' || echo 'role:down')"
  done
}

stop() {
  for f in "$state"/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  echo "stopped (files left in $state)"
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
