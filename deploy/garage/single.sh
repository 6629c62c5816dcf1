#!/usr/bin/env bash
# A single-node Garage on 127.0.0.1, with bucket and key ready for Coffre.
#
#   deploy/garage/single.sh start DIR   # then: source DIR/env.sh
#   deploy/garage/single.sh stop DIR
#
# Ports: S3 on $GARAGE_PORT (default 39000), RPC +1, admin +3.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
base=${GARAGE_PORT:-39000}

case "$cmd" in
start)
    need_garage
    stop_all "$dir"
    rm -rf "${dir:?}/node1" "$dir/node1.toml"
    write_config "$dir" node1 "$(random_hex32)" "$base" $((base + 1)) $((base + 3)) 1
    start_node "$dir" node1
    wait_port $((base + 1))
    wait_status "$dir/node1.toml"
    id=$(node_id "$dir/node1.toml")
    g "$dir/node1.toml" layout assign -z dc1 -c 1G "${id%@*}" >/dev/null
    g "$dir/node1.toml" layout apply --version 1 >/dev/null
    setup_access "$dir/node1.toml"
    wait_port "$base"
    write_env "$dir" "$base"
    echo "garage: single node up, S3 at http://127.0.0.1:$base; source $dir/env.sh"
    ;;
stop) stop_all "$dir" ;;
*) die "usage: $0 start|stop DIR" ;;
esac
