# Shared by dev/run and dev/test: tool paths, offline AWS settings, and a local DynamoDB server.
# shellcheck shell=bash
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.venv/bin:$HOME/.cargo/bin:$PATH"
# Everything runs offline: a fixed region, dummy credentials, no instance metadata look-ups.
# Credentials already in the environment are kept (dev/run against a real table needs them);
# local servers accept any.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  unset AWS_SESSION_TOKEN
fi
unset AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS: until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(f"nothing listens on 127.0.0.1:{port}")
PY
}

# start_moto LOGFILE: moto's DynamoDB-compatible server on a free port; sets MOTO_PID and
# AWS_ENDPOINT_URL_DYNAMODB. The caller stops it (stop_moto, usually from an EXIT trap).
start_moto() {
  start_local_dynamodb MOTO_PID "$1" moto_server -H 127.0.0.1 -p PORT
}

stop_moto() {
  stop_process MOTO_PID
}

# start_dynalite LOGFILE: dynalite (installed into .local/dynalite by dev/bootstrap), an
# in-memory DynamoDB-compatible server with DynamoDB's own validation and number
# normalisation, on a free port; sets DYNALITE_PID and AWS_ENDPOINT_URL_DYNAMODB. The caller
# stops it (stop_dynalite, usually from an EXIT trap).
start_dynalite() {
  start_local_dynamodb DYNALITE_PID "$1" \
    node "$root/.local/dynalite/node_modules/dynalite/cli.js" --host 127.0.0.1 --port PORT
}

stop_dynalite() {
  stop_process DYNALITE_PID
}

# start_local_dynamodb PIDVAR LOGFILE COMMAND...: runs COMMAND in the background with the word
# PORT replaced by a free loopback port, stores its PID in PIDVAR, waits until it listens and
# points AWS_ENDPOINT_URL_DYNAMODB at it.
start_local_dynamodb() {
  local pid_var="$1" log="$2" port
  shift 2
  port="$(free_port)"
  "${@/#PORT/$port}" >"$log" 2>&1 &
  printf -v "$pid_var" '%s' "$!"
  wait_for_port "$port" 30
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
}

# stop_process PIDVAR: stops the background process whose PID PIDVAR holds, if any, and clears it.
stop_process() {
  local pid="${!1:-}"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf -v "$1" '%s' ""
  fi
}
