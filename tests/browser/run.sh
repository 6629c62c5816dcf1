#!/usr/bin/env bash
# The browser suite: Debian's Chromium driven by Python Playwright, axe-core
# from the npm registry, against the real binary (`coffre serve --demo`, a
# fresh server per run: the person's story, then the desk's). Installs what
# it needs when missing (idempotent).
# Screenshots of every page at 360 px wide go to target/ui-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium (Debian)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
venv=target/browser-venv
if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip
        python3 -m venv "$venv"
    fi
fi
if ! "$venv/bin/python" -c "import playwright" >/dev/null 2>&1; then
    echo "== installing playwright (PyPI)"
    "$venv/bin/pip" install -q "playwright==1.65.2"
fi
if ! command -v npm >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
fi
if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
    echo "== installing axe-core (npm)"
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

cargo build -q -p coffre-cli
shots=target/ui-screenshots
rm -rf "$shots"
status=0
for mode in js nojs; do
    out=$(mktemp)
    ./target/debug/coffre serve --demo --listen 127.0.0.1:0 >"$out" 2>target/browser-server-$mode.log &
    pid=$!
    base=""
    for _ in $(seq 1 300); do
        base=$(sed -n 's/^coffre listening on \(http:[^ ]*\)$/\1/p' "$out")
        [ -n "$base" ] && break
        sleep 0.1
    done
    if [ -z "$base" ]; then
        echo "the demonstration server did not start:"; cat "$out" target/browser-server-$mode.log
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    line=$(grep -m1 'Marie Démo: identifier' "$out")
    identifier=$(sed -n 's/.*identifier \([^,]*\),.*/\1/p' <<<"$line")
    secret=$(sed -n 's/.*secret "\(.*\)"$/\1/p' <<<"$line")
    set +e
    "$venv/bin/python" tests/browser/story.py "$base" "$identifier" "$secret" "$shots" \
        tests/browser/node_modules/axe-core/axe.min.js "$mode"
    rc=$?
    set -e
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    if [ "$rc" -ne 0 ]; then status=1; fi

    # The desk's story, on a fresh demonstration server of its own.
    out=$(mktemp)
    ./target/debug/coffre serve --demo --listen 127.0.0.1:0 >"$out" 2>target/browser-desk-server-$mode.log &
    pid=$!
    base=""
    for _ in $(seq 1 300); do
        base=$(sed -n 's/^coffre listening on \(http:[^ ]*\)$/\1/p' "$out")
        [ -n "$base" ] && break
        sleep 0.1
    done
    if [ -z "$base" ]; then
        echo "the demonstration server did not start:"; cat "$out" target/browser-desk-server-$mode.log
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    line=$(grep -m1 '^Caseworker of' "$out")
    login=$(sed -n 's/.*: login \([^,]*\), password.*/\1/p' <<<"$line")
    password=$(sed -n 's/.*password "\(.*\)";$/\1/p' <<<"$line")
    recovery=$(grep -m1 'second factor:' "$out" | sed -n 's/.*once each: \([^ ]*\).*/\1/p')
    other=$(grep -m1 '^Another structure' "$out")
    other_login=$(sed -n 's/.*: login \([^,]*\), password.*/\1/p' <<<"$other")
    other_password=$(sed -n 's/.*password "\([^"]*\)".*/\1/p' <<<"$other")
    other_code=$(sed -n 's/.*, code \(.*\)$/\1/p' <<<"$other")
    set +e
    "$venv/bin/python" tests/browser/desk.py "$base" "$shots" \
        tests/browser/node_modules/axe-core/axe.min.js "$mode" "$login" "$password" "$recovery" \
        "$other_login" "$other_password" "$other_code"
    rc=$?
    set -e
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    if [ "$rc" -ne 0 ]; then status=1; fi
done
if [ "$status" -eq 0 ]; then
    echo "browser suite passed; screenshots in $shots"
fi
exit "$status"
