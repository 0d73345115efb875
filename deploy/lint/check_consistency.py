#!/usr/bin/env python3
"""Cross-file checks of deploy/ that no single validator sees.

usage: check_consistency.py   (from the repository root)

* The PrometheusRule of the Kubernetes base holds exactly the groups of
  deploy/prometheus/alerts.yml.
* Every alert has a severity label, summary and description annotations, and a runbook_url
  whose anchor exists in README.md.
* Every TOML configuration under deploy/ parses and uses only keys the worker knows (those of
  config/default.toml plus the HTTP, Gmail, credentials and quota keys), with valid durations.
* The systemd unit stops later than the worker's drain (TimeoutStopSec > shutdown_grace), and
  every %d/NAME it passes to the worker is loaded with LoadCredential=NAME:….
* The Dockerfile runs as 65532:65532, exposes 9187 and starts `/usr/local/bin/mailroom run`.
"""

from __future__ import annotations

import glob
import re
import sys
import tomllib

import yaml

sys.path.insert(0, __file__.rpartition("/")[0])
from check_kubernetes import duration_seconds  # noqa: E402

# Keys of the worker configuration beyond those listed in config/default.toml.
EXTRA_KEYS = {
    "http.listen",
    "transport.kind",
    "credentials.kind",
    "credentials.service_account_key",
    "credentials.token_keys",
    "credentials.client_secrets",
    "credentials.admin_token_file",
    "api.keys_file",
    "quota.sender_per_minute",
    "quota.sender_per_day",
    "quota.project_per_minute",
}
EXTRA_SECTIONS = {"google"}  # endpoint URLs; their keys are the worker's to check
CHOICES = {
    "environment": {"development", "production"},
    "transport.kind": {"gmail", "outbox", "null"},
    "credentials.kind": {"service_account", "authorized_user"},
    "log.format": {"json", "pretty"},
}

errors: list[str] = []


def flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_alerts() -> None:
    with open("deploy/prometheus/alerts.yml", encoding="utf-8") as f:
        alerts = yaml.safe_load(f)
    with open("deploy/kubernetes/base/prometheusrule.yaml", encoding="utf-8") as f:
        rule = yaml.safe_load(f)
    if rule["spec"]["groups"] != alerts["groups"]:
        errors.append("deploy/kubernetes/base/prometheusrule.yaml: spec.groups differ from "
                      "deploy/prometheus/alerts.yml groups (copy them over)")
    with open("README.md", encoding="utf-8") as f:
        readme = f.read()
    anchors = set(re.findall(r'<a (?:id|name)="([^"]+)"', readme))
    for heading in re.findall(r"^#+ (.+)$", readme, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    for group in alerts["groups"]:
        for r in group["rules"]:
            name = r.get("alert")
            if not name:
                continue
            if r.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
                errors.append(f"alert {name}: severity label missing or unknown")
            ann = r.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    errors.append(f"alert {name}: annotation {key} missing")
            anchor = ann.get("runbook_url", "").partition("#")[2]
            if anchor and anchor not in anchors:
                errors.append(f"alert {name}: runbook_url anchor #{anchor} is not in README.md")


def check_toml() -> None:
    with open("config/default.toml", "rb") as f:
        defaults = flatten(tomllib.load(f))
    known = set(defaults) | EXTRA_KEYS
    durations = {k for k, v in defaults.items()
                 if isinstance(v, str) and re.fullmatch(r"\d+(ms|s|m|h|d|days?)", v)}
    for path in sorted(glob.glob("deploy/**/*.toml", recursive=True)):
        try:
            with open(path, "rb") as f:
                conf = flatten(tomllib.load(f))
        except tomllib.TOMLDecodeError as e:
            errors.append(f"{path}: {e}")
            continue
        for key, value in conf.items():
            if key not in known and key.split(".")[0] not in EXTRA_SECTIONS:
                errors.append(f"{path}: unknown key {key}")
            if key in CHOICES and value not in CHOICES[key]:
                errors.append(f"{path}: {key} = {value!r} is not one of {sorted(CHOICES[key])}")
            if key in durations | {"worker.shutdown_grace"}:
                try:
                    duration_seconds(value)
                except ValueError as e:
                    errors.append(f"{path}: {key}: {e}")


def check_systemd() -> None:
    path = "deploy/systemd/mailroom.service"
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith(("#", ";"))]
    settings: dict[str, list[str]] = {}
    for ln in lines:
        if "=" in ln and not ln.startswith("["):
            k, _, v = ln.partition("=")
            settings.setdefault(k, []).append(v)
    with open("deploy/systemd/mailroom.toml", "rb") as f:
        grace = duration_seconds(tomllib.load(f).get("worker", {}).get("shutdown_grace", "30s"))
    stop = settings.get("TimeoutStopSec", ["90s"])[-1]
    if duration_seconds(stop) < grace + 10:
        errors.append(f"{path}: TimeoutStopSec={stop} must exceed shutdown_grace ({grace:g}s) "
                      "by at least 10s")
    for key, want in (("Type", "notify"), ("NotifyAccess", "main"), ("KillSignal", "SIGTERM"),
                      ("Restart", "on-failure"), ("DynamicUser", "yes")):
        if settings.get(key, [None])[-1] != want:
            errors.append(f"{path}: {key}= must be {want}")
    if "WatchdogSec" not in settings:
        errors.append(f"{path}: WatchdogSec= missing")
    loaded = {v.partition(":")[0] for v in settings.get("LoadCredential", [])}
    for env in settings.get("Environment", []):
        for name in re.findall(r"%d/([^\s\"]+)", env):
            if name not in loaded:
                errors.append(f"{path}: {env} uses a credential not loaded by LoadCredential=")
    exec_start = settings.get("ExecStart", [""])[-1].split()
    if exec_start[:1] != ["/usr/local/bin/mailroom"] or exec_start[-1:] != ["run"]:
        errors.append(f"{path}: ExecStart must run /usr/local/bin/mailroom … run")


def check_dockerfile() -> None:
    path = "deploy/docker/Dockerfile"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    final = text.rpartition("\nFROM ")[2]
    for want in ("USER 65532:65532", "EXPOSE 9187", 'ENTRYPOINT ["/usr/local/bin/mailroom"]',
                 'CMD ["run"]'):
        if not re.search(rf"^{re.escape(want)}\s*$", final, re.M):
            errors.append(f"{path}: the final stage lacks `{want}`")


def main() -> int:
    check_alerts()
    check_toml()
    check_systemd()
    check_dockerfile()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print("alerts.yml = PrometheusRule, runbook anchors in README.md, TOML keys, systemd "
          "stop timeout and credentials, Dockerfile runtime: consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
