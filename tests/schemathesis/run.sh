#!/usr/bin/env bash
# The API contract, checked by schemathesis against the real binary
# (issue 12): every route of the generated OpenAPI document is called with
# generated valid and invalid inputs, authenticated as a caseworker, as a
# person and anonymously; the run fails on any server error or any
# response that does not match the document (status, content type, body).
#
#   bash tests/schemathesis/run.sh            # 25 examples per route
#   EXAMPLES=200 bash tests/schemathesis/run.sh
#
# Installs schemathesis (PyPI) when missing; builds the binary when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
examples=${EXAMPLES:-25}
version=4.32.5

# In a virtual environment of its own (a system Python may refuse pip).
venv=$root/target/schemathesis-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
        as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
fi
schemathesis() { "$venv/bin/schemathesis" "$@"; }
bin=${COFFRE_BIN:-$root/target/debug/coffre}
if [ ! -x "$bin" ]; then
    cargo build -q -p coffre-cli
fi

work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/coffre.toml" <<TOML
[server]
allow_root_identity_in_data_dir = true
[limits]
logins_per_minute = 100000
requests_per_minute_per_account = 100000
[backup]
every_hours = 0
[maintenance]
scrub_interval_hours = 0
TOML
"$bin" serve --config "$work/coffre.toml" --data-dir "$work/data" --listen 127.0.0.1:0 \
    >"$work/out" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
    grep -q "coffre listening on" "$work/out" 2>/dev/null && break
    sleep 0.1
done
base=$(sed -n 's/^coffre listening on //p' "$work/out")
[ -n "$base" ] || { echo "the server did not start:"; cat "$work/server.log"; exit 1; }

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -X POST "$base$1" -H 'content-type: application/json' "${@:3}" -d "$2"; }

# Seeded data: a structure, its admin, a caseworker, a person with a paper.
code=$("$bin" admin structure create --name "CCAS" --admin-login admin --json \
    --data-dir "$work/data" | json '["enrollment_code"]')
# The admin logs in with one of the recovery codes the activation gave
# (their second factor).
recovery=$(post /api/v1/enrollments "{\"code\":\"$code\",\"password\":\"mot-de-passe-admin\"}" \
    | json '["recovery_codes"][0]')
admin=$(post /api/v1/sessions "{\"kind\":\"caseworker\",\"login\":\"admin\",\"password\":\"mot-de-passe-admin\",\"code\":\"$recovery\"}" | json '["token"]')
enrolled=$(post /api/v1/beneficiaries '{"identifier":"marie","display_name":"Marie","secret":"tulipe marche violon","recovery_trustee":true,"grant":{"categories":["identity"],"permissions":["view","upload"],"days":31}}' \
    -H "authorization: Bearer $admin")
b=$(echo "$enrolled" | json '["beneficiary_id"]')
marie_id=$(echo "$enrolled" | json '["identifier"]')
echo "scan" >"$work/scan.txt"
curl -sf -X POST "$base/api/v1/beneficiaries/$b/documents" -H "authorization: Bearer $admin" \
    -F category=identity -F "file=@$work/scan.txt;type=image/jpeg" >/dev/null
marie=$(post /api/v1/sessions "{\"kind\":\"beneficiary\",\"identifier\":\"$marie_id\",\"secret\":\"tulipe marche violon\"}" | json '["token"]')

run() {
    local who=$1; shift
    echo "== schemathesis as $who ($examples examples per route)"
    schemathesis run "$base/api/v1/openapi.json" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "$examples" --seed 20261130 --workers 2 --no-color \
        --suppress-health-check all --request-timeout 30 \
        --exclude-path-regex '^/metrics$' \
        "$@"
}
# Logging out and changing one's secret end the session the run uses:
# tried last, on their own.
keep=(--exclude-path /api/v1/sessions/current --exclude-path /api/v1/sessions/current/secret)
status=0
run "a caseworker" -H "Authorization: Bearer $admin" "${keep[@]}" || status=1
run "a person" -H "Authorization: Bearer $marie" "${keep[@]}" || status=1
run "nobody" || status=1
run "a person, ending their session" -H "Authorization: Bearer $marie" \
    --include-path /api/v1/sessions/current --include-path /api/v1/sessions/current/secret || status=1
if grep -q "server error" "$work/server.log"; then
    echo "the server logged server errors:"; grep "server error" "$work/server.log" | head -20
    status=1
fi
exit $status
