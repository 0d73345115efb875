#!/usr/bin/env bash
# Checks every file under deploy/ with its real validator (`make lint-deploy` installs them
# first with deploy/lint/tools.sh). One line per passing check; a failure prints the
# validator's output and stops.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN_DIR=${RUN_DIR:-.run}
VENV=$RUN_DIR/venv
PY=$VENV/bin/python
KUBECTL=$VENV/bin/kubectl
HADOLINT=$VENV/bin/hadolint
PROMTOOL=$(command -v promtool || echo "$RUN_DIR/tools/promtool")
# The exposure score of the systemd unit may not rise above this (systemd-analyze security
# prints it on a 0-10 scale; --threshold takes tenths).
SYSTEMD_MAX_EXPOSURE=${SYSTEMD_MAX_EXPOSURE:-2.5}
# Oldest Kubernetes version the manifests must be valid for.
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.0}
# No __pycache__ in deploy/lint.
export PYTHONDONTWRITEBYTECODE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ok() { printf 'ok  %-34s %s\n' "$1" "$2"; }
fail() { printf 'FAIL %s\n' "$1" >&2; cat "$work/out" >&2; exit 1; }
# run NAME SUMMARY CMD...: the command's output is shown only when it fails.
run() {
  local name=$1 summary=$2; shift 2
  "$@" >"$work/out" 2>&1 || fail "$name: $*"
  ok "$name" "$summary"
}

# systemd: verify each unit as it is, except that ExecStart points at a stub of the binary
# (systemd-analyze verify requires an executable there); any message is a failure.
mkdir -p "$work/systemd"
printf '#!/bin/sh\nexit 0\n' >"$work/systemd/mailroom"
chmod 0755 "$work/systemd/mailroom"
threshold=$(awk -v s="$SYSTEMD_MAX_EXPOSURE" 'BEGIN { printf "%d", s * 10 + 0.5 }')
for unit in deploy/systemd/mailroom.service deploy/systemd/mailroom-api.service; do
  name=$(basename "$unit")
  sed "s|^ExecStart=/usr/local/bin/mailroom |ExecStart=$work/systemd/mailroom |" "$unit" \
    >"$work/systemd/$name"
  grep -q "^ExecStart=$work/systemd/mailroom " "$work/systemd/$name" \
    || { echo "no ExecStart=/usr/local/bin/mailroom … line in $unit" >"$work/out"; fail "systemd-analyze verify"; }
  systemd-analyze verify --man=no "$work/systemd/$name" >"$work/out" 2>&1 \
    || fail "systemd-analyze verify $unit"
  [ ! -s "$work/out" ] || fail "systemd-analyze verify $unit (warnings)"
  ok "systemd-analyze verify" "$unit"

  systemd-analyze security --offline=true --threshold="$threshold" "$unit" >"$work/out" 2>&1 \
    || fail "systemd-analyze security --offline=true --threshold=$threshold $unit (exposure above $SYSTEMD_MAX_EXPOSURE)"
  score=$(grep -o "Overall exposure level for $name: .*" "$work/out" | sed 's/.*: //')
  ok "systemd-analyze security" "$unit: exposure $score (fails above $SYSTEMD_MAX_EXPOSURE)"
done

# Prometheus alerting rules and their unit tests.
run "promtool check rules" "deploy/prometheus/alerts.yml" \
  "$PROMTOOL" check rules deploy/prometheus/alerts.yml
run "promtool test rules" "deploy/prometheus/alerts_test.yml" \
  "$PROMTOOL" test rules deploy/prometheus/alerts_test.yml

# Kubernetes: render base and overlay, then validate every object strictly.
renders=()
for dir in deploy/kubernetes/base deploy/kubernetes/api deploy/kubernetes/overlays/production; do
  out="$work/$(echo "$dir" | tr / _).yaml"
  "$KUBECTL" kustomize "$dir" >"$out" 2>"$work/out" || fail "kubectl kustomize $dir"
  ok "kubectl kustomize" "$dir ($(grep -c '^kind:' "$out") objects)"
  renders+=("$out")
done
"$PY" deploy/lint/check_kubernetes.py --kubernetes-version "$KUBERNETES_VERSION" "${renders[@]}" \
  >"$work/out" 2>&1 || fail "check_kubernetes.py (schema validation)"
ok "kubernetes schemas (strict)" "built-in kinds: Kubernetes $KUBERNETES_VERSION; PodMonitor, PrometheusRule, ScaledObject: CRD schemas"

# Dockerfile.
run "hadolint" "deploy/docker/Dockerfile" "$HADOLINT" --no-color deploy/docker/Dockerfile

# Dashboard and KEDA queries: JSON, PromQL parsed by promtool, metric names.
"$PY" deploy/lint/check_promql.py --promtool "$PROMTOOL" --dashboard deploy/grafana/mailroom.json \
  --rules deploy/prometheus/alerts.yml "${renders[@]}" >"$work/out" 2>&1 \
  || fail "check_promql.py"
ok "grafana + PromQL" "$(cat "$work/out")"

# Hardening: start limit, socket binds and IP guidance of the unit, egress of the
# NetworkPolicy, what .dockerignore keeps out, placeholder senders.
"$PY" deploy/lint/check_hardening.py >"$work/out" 2>&1 || fail "check_hardening.py"
ok "hardening" "$(cat "$work/out")"

# What ties the files together.
run "consistency" "alerts.yml = PrometheusRule, runbook anchors, TOML keys, stop timeouts" \
  "$PY" deploy/lint/check_consistency.py
