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

# wait_for_port PORT SECONDS [HOST]: until something accepts connections on HOST:PORT
# (default 127.0.0.1).
wait_for_port() {
  python3 - "$1" "$2" "${3:-127.0.0.1}" <<'PY'
import socket, sys, time
port, deadline, host = int(sys.argv[1]), time.time() + float(sys.argv[2]), sys.argv[3]
while time.time() < deadline:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(f"nothing listens on {host}:{port}")
PY
}

# start_moto LOGFILE [HOST]: moto's DynamoDB-compatible server on a free port of HOST (default
# 127.0.0.1; dev/sam-local binds its Docker bridge); sets MOTO_PID and AWS_ENDPOINT_URL_DYNAMODB.
# The caller stops it (stop_moto, usually from an EXIT trap).
start_moto() {
  BIND_HOST="${2:-127.0.0.1}" start_local_dynamodb MOTO_PID "$1" moto_server -H HOST -p PORT
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

# start_local_dynamodb PIDVAR LOGFILE COMMAND...: runs COMMAND in the background with the words
# PORT and HOST replaced by a free port and the bind address ($BIND_HOST, default 127.0.0.1),
# stores its PID in PIDVAR, waits until it listens and points AWS_ENDPOINT_URL_DYNAMODB at it.
start_local_dynamodb() {
  local pid_var="$1" log="$2" port host="${BIND_HOST:-127.0.0.1}" args
  shift 2
  port="$(free_port)"
  args=("${@/#PORT/$port}")
  "${args[@]/#HOST/$host}" >"$log" 2>&1 &
  printf -v "$pid_var" '%s' "$!"
  wait_for_port "$port" 30 "$host"
  export AWS_ENDPOINT_URL_DYNAMODB="http://$host:$port"
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

# apt_install LOGFILE PACKAGE...: Debian packages, quietly, starting no service on install (on a
# systemd host, docker.io's own daemon would set up docker0 and firewall rules): Debian's
# policy-rc.d convention, only while installing.
apt_install() {
  local log="$1" policy=/usr/sbin/policy-rc.d made_policy= status=0
  shift
  apt-get update -qq >"$log" 2>&1 || true
  [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1 || status=$?
  [ -z "$made_policy" ] || rm -f "$policy"
  ((status == 0)) || { tail -20 "$log"; return "$status"; }
}
