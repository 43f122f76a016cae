#!/usr/bin/env bash
# --log.format json: every line the exporter writes parses as one JSON object
# with ts, level and msg, through a start, scrapes of a fixture with hostile
# domain names, a failing libvirt URI and a SIGTERM.
#   json_log_test.sh EXPORTER FIXTURE_NODE
set -euo pipefail
EXPORTER=$1 FIXTURE=$2
source "$(dirname "$0")/lib.sh"

start_exporter json --libvirt.uri "test://$FIXTURE" --log.format json --log.level debug
scrape /metrics >/dev/null
scrape /metrics >/dev/null
kill -TERM "$EXPORTER_PID"
wait "$EXPORTER_PID" || fail "exit code $? after SIGTERM"
LIBVIRT_EXPORTER_LOG_FORMAT=json start_exporter json_env --libvirt.uri "test://$E2E_TMP/absent.xml"
scrape /metrics >/dev/null
kill -TERM "$EXPORTER_PID"
wait "$EXPORTER_PID" || fail "exit code $? after SIGTERM"

python3 - "$E2E_TMP/json.log" "$E2E_TMP/json_env.log" <<'PY' || fail "JSON logs"
import json, sys
required = ("ts", "level", "msg")
messages = []
for path in sys.argv[1:]:
    with open(path, "rb") as log:
        lines = log.read().decode("utf-8").splitlines()
    if not lines:
        sys.exit(f"{path}: no log lines")
    for number, line in enumerate(lines, 1):
        record = json.loads(line)  # raises on anything but one JSON value
        if not isinstance(record, dict):
            sys.exit(f"{path}:{number}: not an object: {line}")
        missing = [key for key in required if key not in record]
        if missing or list(record)[:3] != list(required):
            sys.exit(f"{path}:{number}: keys {list(record)}: {line}")
        if record["level"] not in ("debug", "info", "warn", "error"):
            sys.exit(f"{path}:{number}: level {record['level']}")
        messages.append(record["msg"])
for expected in ("listening", "shutting down", "collector failed"):
    if expected not in messages:
        sys.exit(f"no {expected!r} line among {sorted(set(messages))}")
print(f"{len(messages)} JSON log lines parsed")
PY
echo "PASS: JSON logs"
