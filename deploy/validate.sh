#!/usr/bin/env bash
# Checks the deployment files as shipped: HAProxy's configuration (`haproxy -c`), the systemd
# unit (`systemd-analyze verify`, silent or failed, with the unit's binary path pointed at the built agent) and
# the Kubernetes manifests against the API schemas (`kubernetes-validate --strict`, from
# PyPI, pinned with hashes in deploy/requirements.txt) and KEDA's ScaledObject against KEDA's
# schemas (`@kubernetes-models/keda`, from npm). No cluster is needed.
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv
if [[ ! -x $venv/bin/kubernetes-validate || requirements.txt -nt $venv/bin/kubernetes-validate ]]; then
  echo "deploy: installing kubernetes-validate into deploy/$venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: -r requirements.txt
fi

VULCAN_HAPROXY_BIND=127.0.0.1:8080 VULCAN_AGENT_1=127.0.0.1:8081 VULCAN_AGENT_2=127.0.0.1:8082 \
  VULCAN_AGENT_3=127.0.0.1:8083 haproxy -c -q -f haproxy.cfg
echo "deploy: haproxy.cfg is valid"

agent=$(cd .. && cargo build --quiet --bin vulcan --message-format=json |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])')
unit_dir=$(mktemp -d)
trap 'rm -rf "$unit_dir"' EXIT
sed "s|/usr/local/bin/vulcan|$agent|" systemd/vulcan.service >"$unit_dir/vulcan.service"
# verify exits 0 on unknown keys and bad values, which it only prints: any output fails.
complaints=$(systemd-analyze verify "$unit_dir/vulcan.service" 2>&1)
if [[ -n $complaints ]]; then
  echo "$complaints" >&2
  exit 1
fi
echo "deploy: systemd/vulcan.service is valid"

"$venv/bin/kubernetes-validate" --strict --quiet kubernetes/deployment.yaml kubernetes/service.yaml \
  kubernetes/poddisruptionbudget.yaml
echo "deploy: kubernetes/ (core API) is valid"

# KEDA's kinds, against KEDA's schemas (npm, pinned by deploy/package-lock.json).
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "deploy: installing the KEDA schemas (npm ci in deploy/)"
  npm ci --no-audit --no-fund --loglevel=error
fi
node validate-keda.mjs kubernetes/scaledobject.yaml
