#!/usr/bin/env python3
"""What keeps the deployed worker hardened, file by file (issue 12).

usage: check_hardening.py   (from the repository root)

* systemd: no start limit that can leave a crash-looping service down for good
  (StartLimitIntervalSec=0, or a burst that RestartSec can never reach), Restart= set;
  SocketBindDeny=any with SocketBindAllow= for the port of http.listen in
  deploy/systemd/mailroom.toml; IPAddressDeny=/IPAddressAllow= guidance in the comments.
* Kubernetes NetworkPolicy: egress only to DNS (53), to the Redis pods by label selector
  (6379), and to 443; no rule open to every port; an egress proxy documented.
* .dockerignore: key files (*.json anywhere), .env files, token-key and admin-token files,
  PEM keys and outbox/ stay out of the build context, and what the build needs stays in.
* Shipped configs: jobs.allowed_senders lists exact placeholder addresses (no wildcard),
  with a comment saying why.
"""

from __future__ import annotations

import re
import sys
import tomllib

import yaml

errors: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        errors.append(message)


def seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", text):
        total += float(number) * units.get(unit or "s", 1)
    return total


def systemd() -> None:
    path = "deploy/systemd/mailroom.service"
    text = open(path, encoding="utf-8").read()
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    last = lambda key, default="": (settings.get(key) or [default])[-1]  # noqa: E731
    interval = seconds(last("StartLimitIntervalSec", "10s"))
    burst = int(last("StartLimitBurst", "5"))
    restart_sec = seconds(last("RestartSec", "0.1s"))
    check(
        interval == 0 or burst * restart_sec > interval,
        f"{path}: StartLimitIntervalSec={interval:g}s with StartLimitBurst={burst} and "
        f"RestartSec={restart_sec:g}s can leave a crash-looping service down for good",
    )
    check(last("Restart") in {"on-failure", "always"}, f"{path}: Restart=on-failure expected")
    config = tomllib.load(open("deploy/systemd/mailroom.toml", "rb"))
    listen = config.get("http", {}).get("listen", "127.0.0.1:9187")
    port = listen.rsplit(":", 1)[-1]
    allowed = settings.get("SocketBindAllow", [])
    check("any" in settings.get("SocketBindDeny", []), f"{path}: SocketBindDeny=any missing")
    check(
        f"tcp:{port}" in allowed,
        f"{path}: SocketBindAllow=tcp:{port} (http.listen of mailroom.toml) missing: {allowed}",
    )
    for directive in ("IPAddressDeny=", "IPAddressAllow="):
        check(
            re.search(rf"^#\s*{directive}\S", text, re.M) is not None,
            f"{path}: no {directive} guidance in the comments",
        )


def network_policy() -> None:
    path = "deploy/kubernetes/base/networkpolicy.yaml"
    text = open(path, encoding="utf-8").read()
    policy = yaml.safe_load(text)
    check("Egress" in policy["spec"].get("policyTypes", []), f"{path}: egress not restricted")
    redis_by_selector = False
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports") or []
        check(ports != [], f"{path}: an egress rule open to every port: {rule}")
        numbers = {p.get("port") for p in ports}
        if numbers <= {53}:
            continue
        if numbers == {443}:
            check("to" not in rule or rule["to"], f"{path}: 443 rule: {rule}")
            continue
        if numbers == {6379}:
            peers = rule.get("to") or []
            redis_by_selector = bool(peers) and all(
                "podSelector" in peer and peer["podSelector"].get("matchLabels") for peer in peers
            )
            check(redis_by_selector, f"{path}: Redis egress must select the Redis pods: {rule}")
            continue
        errors.append(f"{path}: egress to ports {sorted(numbers)} beyond DNS, Redis and 443")
    check(redis_by_selector, f"{path}: no egress rule to the Redis pods by selector")
    check("HTTPS_PROXY" in text and "egress" in text, f"{path}: the egress proxy is not documented")


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    # A pattern that matches a directory excludes everything below it.
    return re.compile(f"^{out}(?:/.*)?$")


def dockerignore() -> None:
    rules = []
    for line in open(".dockerignore", encoding="utf-8").read().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, dockerignore_regex(line.lstrip("!").strip("/"))))

    def excluded(path: str) -> bool:
        verdict = False
        for negate, regex in rules:
            if regex.match(path):
                verdict = not negate
        return verdict

    for secret in (
        "service-account.json",
        "client_secret.json",
        "credentials/service-account.json",
        "crates/worker/sa-key.json",
        ".env",
        "config/.env.production",
        "mailroom.env",
        "token-keys",
        "secrets/token_keys.txt",
        "admin-token",
        "key.pem",
        "outbox/01J.eml",
        "crates/worker/outbox/01J.eml",
    ):
        check(excluded(secret), f".dockerignore lets {secret} into the build context")
    for needed in (
        "Cargo.toml",
        "Cargo.lock",
        "crates/worker/src/main.rs",
        "crates/queue/src/lua/enqueue.lua",
        "crates/jobs/schema/email-job.schema.json",
        "config/default.toml",
    ):
        check(not excluded(needed), f".dockerignore keeps {needed} out, and the build needs it")


def shipped_configs() -> None:
    for path in (
        "deploy/systemd/mailroom.toml",
        "deploy/kubernetes/base/mailroom.toml",
        "deploy/kubernetes/overlays/production/mailroom.toml",
    ):
        text = open(path, encoding="utf-8").read()
        senders = tomllib.loads(text).get("jobs", {}).get("allowed_senders", [])
        check(bool(senders), f"{path}: jobs.allowed_senders is empty")
        check(
            all("*" not in s for s in senders),
            f"{path}: jobs.allowed_senders ships a wildcard: {senders}",
        )
        check("placeholder" in text.lower(), f"{path}: no comment says the senders are placeholders")


systemd()
network_policy()
dockerignore()
shipped_configs()
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("start limit, socket binds, IP guidance, egress, .dockerignore, placeholder senders")
