# Shared helpers for the Garage scripts beside this file. Sourced, not run.
# Garage 2.5 (`cargo install garage --locked`) must be on PATH.

set -euo pipefail

GARAGE_BIN=${GARAGE_BIN:-garage}
GARAGE_REGION=${GARAGE_REGION:-garage}
GARAGE_BUCKET=${GARAGE_BUCKET:-coffre}
# Fixed, documented test credentials (GK + 24 hex, 64 hex): these scripts
# are for trying Coffre and for CI on one machine, never for production.
GARAGE_KEY_ID=${GARAGE_KEY_ID:-GK0c0ffee0c0ffee0c0ffee0c0}
GARAGE_SECRET=${GARAGE_SECRET:-c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff}

die() { echo "garage: $*" >&2; exit 1; }

need_garage() {
    command -v "$GARAGE_BIN" >/dev/null 2>&1 \
        || die "'$GARAGE_BIN' not found; install it with: cargo install garage --locked"
}

random_hex32() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# write_config DIR NAME RPC_SECRET S3_PORT RPC_PORT ADMIN_PORT REPLICATION
write_config() {
    local dir=$1 name=$2 secret=$3 s3=$4 rpc=$5 admin=$6 rf=$7
    mkdir -p "$dir/$name/meta" "$dir/$name/data"
    cat >"$dir/$name.toml" <<TOML
metadata_dir = "$dir/$name/meta"
data_dir = "$dir/$name/data"
db_engine = "sqlite"
replication_factor = $rf
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"

[s3_api]
s3_region = "$GARAGE_REGION"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(random_hex32)"
TOML
}

g() { local cfg=$1; shift; "$GARAGE_BIN" -c "$cfg" "$@"; }

# start_node DIR NAME: runs the server in the background, records its pid.
start_node() {
    local dir=$1 name=$2
    RUST_LOG=${RUST_LOG:-warn} nohup "$GARAGE_BIN" -c "$dir/$name.toml" server \
        >"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
}

wait_port() {
    local port=$1
    for _ in $(seq 1 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    die "nothing listens on 127.0.0.1:$port after 30 s (see the node's .log)"
}

wait_status() {
    local cfg=$1
    for _ in $(seq 1 60); do
        if g "$cfg" status >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    die "garage status does not answer for $cfg"
}

node_id() { g "$1" node id -q 2>/dev/null | tail -n 1 | tr -d '[:space:]'; }

# setup_access CFG: key, bucket, permissions, then wait until usable.
setup_access() {
    local cfg=$1
    g "$cfg" key import --yes -n coffre "$GARAGE_KEY_ID" "$GARAGE_SECRET" >/dev/null
    g "$cfg" bucket create "$GARAGE_BUCKET" >/dev/null
    g "$cfg" bucket allow --read --write --owner "$GARAGE_BUCKET" --key "$GARAGE_KEY_ID" >/dev/null
    for _ in $(seq 1 60); do
        if g "$cfg" bucket info "$GARAGE_BUCKET" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    die "bucket $GARAGE_BUCKET did not become available"
}

# write_env DIR S3_PORT [KILL_PID]: the environment the tests and Coffre read.
write_env() {
    local dir=$1 s3=$2 kill_pid=${3:-}
    {
        echo "export COFFRE_TEST_S3_ENDPOINT=http://127.0.0.1:$s3"
        echo "export COFFRE_TEST_S3_REGION=$GARAGE_REGION"
        echo "export COFFRE_TEST_S3_BUCKET=$GARAGE_BUCKET"
        echo "export AWS_ACCESS_KEY_ID=$GARAGE_KEY_ID"
        echo "export AWS_SECRET_ACCESS_KEY=$GARAGE_SECRET"
        if [ -n "$kill_pid" ]; then echo "export COFFRE_TEST_GARAGE_KILL_PID=$kill_pid"; fi
    } >"$dir/env.sh"
}

# stop_all DIR: SIGTERM every node started in DIR, SIGKILL after 10 s.
stop_all() {
    local dir=$1 pids=()
    for pidfile in "$dir"/*.pid; do
        [ -e "$pidfile" ] || continue
        pids+=("$(cat "$pidfile")")
        rm -f "$pidfile"
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && return 0
        sleep 0.2
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
}
