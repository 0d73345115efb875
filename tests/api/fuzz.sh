#!/usr/bin/env bash
# The HTTP API against its own OpenAPI document, as `make test` runs it:
#  1. docs/openapi.json is valid OpenAPI 3.1 (openapi-spec-validator);
#  2. a real `mailroom api`, over a throwaway redis-server on a port of its own, is fuzzed
#     from the document it serves with schemathesis: every response must conform to the
#     document (status, media type, headers, body schema) and none may be a 5xx; up to
#     FUZZ_EXAMPLES (default 500) generated cases per operation, positive and negative.
# Installs the two Python packages with pip when they are missing; says what is missing
# otherwise. Run from the workspace root: `bash tests/api/fuzz.sh`.
set -euo pipefail

EXAMPLES="${FUZZ_EXAMPLES:-500}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
CARGO="${CARGO:-cargo}"

need_python() {
  command -v python3 >/dev/null || { echo "fuzz: python3 not found: install Python 3.9+ (apt-get install python3 python3-pip)"; exit 1; }
  local missing=()
  python3 -c "import openapi_spec_validator" 2>/dev/null || missing+=(openapi-spec-validator)
  python3 -c "import schemathesis" 2>/dev/null || missing+=(schemathesis)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "fuzz: installing ${missing[*]} with pip"
    python3 -m pip install -q "${missing[@]}" || {
      echo "fuzz: could not install ${missing[*]}: run \`python3 -m pip install ${missing[*]}\`"; exit 1; }
  fi
  command -v redis-server >/dev/null || { echo "fuzz: redis-server not found: run \`make deps\`"; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

need_python
echo "fuzz: validating docs/openapi.json"
python3 -m openapi_spec_validator docs/openapi.json

"$CARGO" build -q -p mailroom-worker --bin mailroom
bin="$TARGET_DIR/debug/mailroom"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || { echo "fuzz: redis-server did not start"; cat "$work/redis.log"; exit 1; }

api_port="$(free_port)"
cat >"$work/mailroom.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$redis_port/"
[jobs]
allowed_senders = ["*@example.com"]
[transport.outbox]
dir = "$work/outbox"
[http]
listen = "off"
[api]
listen = "127.0.0.1:$api_port"
keys_file = "$work/api-keys"
[log]
format = "json"
level = "warn"
TOML
export MAILROOM_CONFIG="$work/mailroom.toml"
key="$("$bin" api new-key fuzz --scopes send,read,admin 2>/dev/null)"
secret="$(sed -n 's/^secret: *//p' <<<"$key")"
(umask 077; sed -n 's/^line: *//p' <<<"$key" >"$work/api-keys")
"$bin" api 2>"$work/api.log" &
pids+=($!)
for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$api_port/livez" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$api_port/livez" >/dev/null || { echo "fuzz: mailroom api did not start"; cat "$work/api.log"; exit 1; }

echo "fuzz: schemathesis against http://127.0.0.1:$api_port (up to $EXAMPLES cases per operation)"
status=0
# From the scratch directory, so schemathesis's own state (.schemathesis/) stays out of the tree.
(cd "$work" && python3 -m schemathesis.cli run "http://127.0.0.1:$api_port/v1/openapi.json" \
  --header "Authorization: Bearer $secret" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --mode all \
  --phases examples,coverage,fuzzing \
  --max-examples "$EXAMPLES" \
  --seed 1 \
  --no-color) || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: schemathesis found failures; the API's log:"; tail -50 "$work/api.log"
  exit "$status"
fi
# How many requests each operation got, read from the API's own counter
# (mailroom_http_requests_total{route,code}); routes serving two methods need twice as many.
# (schemathesis does not test the document's own operation, GET /v1/openapi.json.) GET
# /v1/queue and GET /v1/senders take no input, so the only cases to generate are the few
# variations of their headers: they need one request each.
curl -fsS "http://127.0.0.1:$api_port/metrics" | python3 -c '
import re, sys
counts = {}
for line in sys.stdin:
    m = re.match(r"mailroom_http_requests_total\{code=\"(\d+)\",route=\"([^\"]+)\"\} (\d+)", line)
    if m:
        counts[m.group(2)] = counts.get(m.group(2), 0) + int(m.group(3))
        if m.group(1).startswith("5"):
            sys.exit(f"fuzz: {m.group(3)} answers with status {m.group(1)} on {m.group(2)}")
want = int(sys.argv[1])
operations = {"/v1/messages": 1, "/v1/messages/batch": 1, "/v1/messages/{id}": 2, "/v1/queue": 0,
              "/v1/dead": 1, "/v1/dead/retry": 1, "/v1/dead/purge": 1, "/v1/senders": 0}
short = []
for route, n in sorted(operations.items()):
    got, need = counts.get(route, 0), max(want * n, 1)
    print(f"fuzz: {route}: {got} requests, {need} needed")
    if got < need:
        short.append(route)
if short:
    sys.exit(f"fuzz: fewer than {want} requests per operation on {short}")
' "$EXAMPLES"
