#!/usr/bin/env bash
# Make sure the local Redis answers on 127.0.0.1:6379: the scale-out test's Celery broker.
# Starts the Debian redis-server when it is installed but down (nothing kept on disk).
set -euo pipefail
HOST=127.0.0.1
PORT=6379

answers() { redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null | grep -q PONG; }

if answers; then exit 0; fi
if command -v redis-server >/dev/null 2>&1; then
  echo "starting redis-server on $HOST:$PORT" >&2
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do answers && exit 0; sleep 1; done
fi
echo "Redis is not reachable on $HOST:$PORT; the scale-out test will fail under CI" >&2
exit 1
