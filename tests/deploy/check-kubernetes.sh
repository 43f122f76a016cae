#!/usr/bin/env bash
# Checks the DaemonSet against what the image and the exporter expect, without a cluster: the
# socket directory mounted read-only from the host, probes on "/", resource limits, a non-root
# user that is the one the Dockerfile creates, the port the image exposes. With PyYAML present it
# also checks that the file parses and where the settings sit.
# Usage: check-kubernetes.sh SOURCE_DIR
set -euo pipefail

src=$1
manifest=$src/deploy/kubernetes/daemonset.yaml
failures=0
require() {
  local pattern=$1 what=$2
  if grep -Eq -- "$pattern" "$manifest"; then
    echo "ok: $what"
  else
    echo "FAIL: $what (no match for /$pattern/)" >&2
    failures=$((failures + 1))
  fi
}

uid=$(sed -n 's/^USER \([0-9]*\):.*/\1/p' "$src/Dockerfile")
gid=$(sed -n 's/^USER [0-9]*:\([0-9]*\)$/\1/p' "$src/Dockerfile")
port=$(sed -n 's/^EXPOSE \([0-9]*\)$/\1/p' "$src/Dockerfile")
[[ -n $uid && -n $gid && -n $port ]] || { echo "FAIL: Dockerfile has no numeric USER UID:GID or no EXPOSE" >&2; exit 1; }

require '^kind: DaemonSet$' "kind DaemonSet"
require '^ +path: /run/libvirt$' "hostPath is the directory /run/libvirt"
require '^ +type: Directory$' "hostPath type Directory"
require '^ +mountPath: /run/libvirt$' "mounted at /run/libvirt"
require '^ +readOnly: true$' "mounted read-only"
require '^ +readinessProbe:$' "has a readinessProbe"
require '^ +path: /$' "probes ask /"
require '^ +limits:$' "has resource limits"
require '^ +runAsNonRoot: true$' "runAsNonRoot"
require "^ +runAsUser: $uid\$" "runAsUser is the Dockerfile's UID $uid"
require "^ +runAsGroup: $gid\$" "runAsGroup is the Dockerfile's GID $gid"
require "^ +containerPort: $port\$" "containerPort is the Dockerfile's EXPOSE $port"
require '^ +readOnlyRootFilesystem: true$' "read-only root filesystem"
require '^ +allowPrivilegeEscalation: false$' "no privilege escalation"

if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "$manifest" <<'PY' || failures=$((failures + 1))
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
pod = doc["spec"]["template"]["spec"]
container = pod["containers"][0]
volume = {v["name"]: v for v in pod["volumes"]}
mount = container["volumeMounts"][0]
assert doc["spec"]["selector"]["matchLabels"].items() <= doc["spec"]["template"]["metadata"]["labels"].items(), "selector does not match the pod labels"
assert volume[mount["name"]]["hostPath"]["path"] == "/run/libvirt" and mount["readOnly"] is True, "socket directory mount"
assert container["readinessProbe"]["httpGet"]["path"] == "/", "readiness probe path"
assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), "cpu and memory limits"
print("ok: the manifest parses and its structure holds")
PY
else
  echo "PyYAML not installed: structure not checked"
fi
echo "RESULT: $failures failure(s)"
((failures == 0))
