#!/usr/bin/env bash
# Smoke test of the container image, for machines with Docker (the sandbox's own CI has none and
# checks the Dockerfile with hadolint and tests/test_image.py instead).
#   deploy/image-smoke.sh [IMAGE]     builds IMAGE (default vnsandbox:smoke) from this checkout, then
#   1. embedded mode: `docker run -p PORT:8000 IMAGE` prints the banner, /_sandbox/ready answers,
#      the VNeID discovery document names the published address as issuer;
#   2. shared mode: the same image with a postgres:15 container, SANDBOX_POSTGRES_URL and the
#      shared-mode secrets: ready, mode "shared", the issuer is SANDBOX_PUBLIC_URL.
# Exits non-zero with the container's log on the first failure; removes what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-vnsandbox:smoke}
PORT=${SMOKE_PORT:-18000}
NAME=vnsb-smoke-$$
NET=vnsb-smoke-net-$$

cleanup() {
  docker rm -f "$NAME" "$NAME-pg" >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "image-smoke: $*" >&2; docker logs "$NAME" >&2 || true; exit 1; }

wait_ready() {
  for _ in $(seq 1 90); do
    if curl -fsS "http://127.0.0.1:$PORT/_sandbox/ready" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  fail "not ready on port $PORT after 90 s"
}

docker build -t "$IMAGE" .

echo "image-smoke: embedded mode"
docker run -d --name "$NAME" -p "$PORT:8000" "$IMAGE" >/dev/null
wait_ready
docker logs "$NAME" 2>&1 | grep -q "is up (embedded mode" || fail "no embedded-mode banner"
curl -fsS "http://127.0.0.1:$PORT/vneid/v1/.well-known/openid-configuration" |
  grep -Eq "\"issuer\": ?\"http://127.0.0.1:$PORT/vneid/v1\"" || fail "discovery issuer is not the published address"
docker rm -f "$NAME" >/dev/null

echo "image-smoke: shared mode on PostgreSQL"
docker network create "$NET" >/dev/null
docker run -d --name "$NAME-pg" --network "$NET" -e POSTGRES_PASSWORD=smoke postgres:15 >/dev/null
for _ in $(seq 1 60); do docker exec "$NAME-pg" pg_isready -U postgres >/dev/null 2>&1 && break; sleep 1; done
docker run -d --name "$NAME" --network "$NET" -p "$PORT:8000" \
  -e SANDBOX_MODE=shared \
  -e SANDBOX_POSTGRES_URL="postgresql://postgres:smoke@$NAME-pg:5432" \
  -e SANDBOX_PUBLIC_URL="http://127.0.0.1:$PORT" \
  -e SANDBOX_GATEWAY_SECRET="smoke-$(date +%s)-a-long-random-secret" \
  -e GATEWAY_ADMIN_KEY="smoke-admin-key-$$" \
  "$IMAGE" >/dev/null
wait_ready
docker logs "$NAME" 2>&1 | grep -q "is up (shared mode, PostgreSQL" || fail "no shared-mode banner"
curl -fsS "http://127.0.0.1:$PORT/_sandbox/version" | grep -Eq '"mode": ?"shared"' || fail "gateway is not in shared mode"
echo "image-smoke: ok ($IMAGE)"
