#!/usr/bin/env bash
# A three-node Garage cluster on 127.0.0.1, replication factor 3 (one zone
# per node), with bucket and key ready for Coffre. Any one node can be lost
# and the cluster keeps serving reads and writes (quorum 2 of 3).
#
#   deploy/garage/cluster.sh start DIR   # then: source DIR/env.sh
#   deploy/garage/cluster.sh stop DIR
#
# Node i (1..3): S3 on $GARAGE_PORT + 10*i (default base 39100), RPC +1,
# admin +3. env.sh points at node 1 and names node 3's pid as the one to
# kill (COFFRE_TEST_GARAGE_KILL_PID).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
base=${GARAGE_PORT:-39100}

case "$cmd" in
start)
    need_garage
    stop_all "$dir"
    secret=$(random_hex32)
    for i in 1 2 3; do
        p=$((base + 10 * i))
        rm -rf "${dir:?}/node$i" "$dir/node$i.toml"
        write_config "$dir" "node$i" "$secret" "$p" $((p + 1)) $((p + 3)) 3
        start_node "$dir" "node$i"
    done
    for i in 1 2 3; do wait_port $((base + 10 * i + 1)); done
    wait_status "$dir/node1.toml"
    for i in 2 3; do
        g "$dir/node1.toml" node connect "$(node_id "$dir/node$i.toml")" >/dev/null
    done
    for i in 1 2 3; do
        id=$(node_id "$dir/node$i.toml")
        g "$dir/node1.toml" layout assign -z "z$i" -c 1G "${id%@*}" >/dev/null
    done
    g "$dir/node1.toml" layout apply --version 1 >/dev/null
    setup_access "$dir/node1.toml"
    for i in 1 2 3; do wait_port $((base + 10 * i)); done
    write_env "$dir" $((base + 10)) "$(cat "$dir/node3.pid")"
    echo "garage: 3-node cluster up, S3 at http://127.0.0.1:$((base + 10)); source $dir/env.sh"
    ;;
stop) stop_all "$dir" ;;
*) die "usage: $0 start|stop DIR" ;;
esac
