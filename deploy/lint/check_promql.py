#!/usr/bin/env python3
"""Check every PromQL expression under deploy/ outside the alerting rules' own tests.

usage: check_promql.py --promtool PATH --dashboard deploy/grafana/mailroom.json
                       --rules deploy/prometheus/alerts.yml [RENDERED-KUBERNETES.yaml...]

* The dashboard is well-formed JSON, every panel and query uses the ${datasource} variable,
  panel ids are unique.
* Every query of the dashboard (Grafana variables replaced by sample values) and every
  prometheus trigger of a KEDA ScaledObject is written as a recording rule to a temporary rules
  file, and `promtool check rules` parses it: Prometheus' own parser.
* Every metric these queries and the alerting rules reference is one the worker (or, for
  the unsubscribe counter, `mailroom api`) exports (histograms with their
  _bucket/_sum/_count series), a standard process_* metric, or `up`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

WORKER_METRICS = {
    "mailroom_jobs_enqueued_total",
    "mailroom_jobs_started_total",
    "mailroom_jobs_completed_total",
    "mailroom_queue_jobs",
    "mailroom_queue_oldest_ready_timestamp_seconds",
    "mailroom_gmail_errors_total",
    "mailroom_jobs_in_flight",
    "mailroom_oauth_token_refreshes_total",
    "mailroom_ambiguous_sends_total",
    "mailroom_sender_quarantined",
    "mailroom_sender_quota_remaining",
    "mailroom_pool_members",
    "mailroom_pool_quota_remaining",
    "mailroom_redis_errors_total",
    "mailroom_redis_failovers_total",
    "mailroom_build_info",
    "mailroom_suppressed_recipients_total",
    "mailroom_bounces_total",
}
# Exported by `mailroom api` (its own /metrics).
API_METRICS = {
    "mailroom_unsubscribes_total",
}
WORKER_HISTOGRAMS = {"mailroom_job_attempts", "mailroom_send_duration_seconds"}
KNOWN = (WORKER_METRICS
         | API_METRICS
         | {f"{h}_{s}" for h in WORKER_HISTOGRAMS for s in ("bucket", "sum", "count")}
         | {"up"})

# Grafana's variables, replaced by values of the right type before parsing.
GRAFANA_VARS = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h",
    "__interval_ms": "60000", "__range_s": "3600", "__range_ms": "3600000",
}

NOT_METRICS = {
    # keywords and binary operators
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "atan2", "inf", "nan", "start", "end",
    # aggregation operators (they may be followed by `by (...)` instead of `(`)
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}


def metric_names(expr: str) -> set[str]:
    """Metric names used by a PromQL expression that promtool has accepted."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    s = re.sub(r"#[^\n]*", "", s)
    s = re.sub(r"\{[^}]*\}", "{}", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "[]", s)  # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1()", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        before = s[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == ".":
            continue  # 1e3, 5m, 0.5
        if s[m.end():].lstrip().startswith("(") or m.group(0).lower() in NOT_METRICS:
            continue
        names.add(m.group(0))
    return names


def grafana_to_promql(expr: str) -> str:
    def var(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return GRAFANA_VARS.get(name, ".*")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", var, expr)


def dashboard_queries(path: str, errors: list[str]) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        try:
            dash = json.load(f)
        except json.JSONDecodeError as e:
            errors.append(f"{path}: not valid JSON: {e}")
            return []
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            errors.append(f"{path}: no {key}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append(f"{path}: needs a Prometheus datasource variable named datasource")
    queries: list[tuple[str, str]] = []
    for name, v in variables.items():
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", q or "")
        if m:
            queries.append((f"variable {name}", m.group(1)))
        else:
            queries.append((f"variable {name}", q or ""))

    panels, ids = [], set()
    stack = list(dash.get("panels", []))
    while stack:
        p = stack.pop(0)
        panels.append(p)
        stack.extend(p.get("panels", []))
    for p in panels:
        pid, title = p.get("id"), p.get("title", "")
        if pid in ids:
            errors.append(f"{path}: panel id {pid} is used twice")
        ids.add(pid)
        if "gridPos" not in p:
            errors.append(f"{path}: panel {pid} {title!r} has no gridPos")
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{path}: panel {pid} {title!r} has no query")
        for obj in [p] + targets:
            uid = (obj.get("datasource") or {}).get("uid")
            if uid != "${datasource}":
                errors.append(f"{path}: panel {pid} {title!r}: datasource must be ${{datasource}}")
                break
        for t in targets:
            queries.append((f"panel {pid} {title!r} query {t.get('refId')}", t.get("expr", "")))
    return queries


def keda_queries(paths: list[str]) -> list[tuple[str, str]]:
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "ScaledObject":
                    continue
                for i, trig in enumerate(doc["spec"].get("triggers", [])):
                    if trig.get("type") == "prometheus":
                        out.append((f"{path}: ScaledObject {doc['metadata']['name']} trigger {i}",
                                    trig["metadata"]["query"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--promtool", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("kubernetes", nargs="*")
    args = ap.parse_args()

    errors: list[str] = []
    queries = [(f"{args.dashboard}: {w}", grafana_to_promql(q))
               for w, q in dashboard_queries(args.dashboard, errors)]
    queries += keda_queries(args.kubernetes)

    with open(args.rules, encoding="utf-8") as f:
        alert_rules = [(f"{args.rules}: {r.get('alert') or r.get('record')}", r["expr"])
                       for g in yaml.safe_load(f)["groups"] for r in g["rules"]]

    rules = [{"record": f"mailroom_lint:query_{i}", "expr": q, "labels": {"source": w}}
             for i, (w, q) in enumerate(queries)]
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = os.path.join(tmp, "queries.rules.yml")
        with open(rules_file, "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": [{"name": "deploy-queries", "rules": rules}]}, f,
                           sort_keys=False, width=1000)
        res = subprocess.run([args.promtool, "check", "rules", rules_file],
                             capture_output=True, text=True)
        if res.returncode != 0:
            errors.append("promtool rejected a query:\n" + res.stdout + res.stderr)
            for i, (w, q) in enumerate(queries):
                if f"rule {i + 1}, " in res.stdout + res.stderr:
                    errors.append(f"  -> {w}: {q}")

    used: dict[str, set[str]] = {}
    for w, q in queries + alert_rules:
        for name in metric_names(q):
            used.setdefault(name, set()).add(w)
    for name, where in sorted(used.items()):
        if name not in KNOWN and not name.startswith("process_"):
            errors.append(f"unknown metric {name} in {', '.join(sorted(where))}")

    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    mailroom = sorted(n for n in used if n.startswith("mailroom_"))
    print(f"{len(queries)} queries (dashboard, KEDA) parsed by promtool; "
          f"{len(used)} metrics referenced, all known ({len(mailroom)} mailroom_*)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
