#!/usr/bin/env python3
"""Strict schema validation of rendered Kubernetes manifests, plus mailroom's deployment rules.

usage: check_kubernetes.py [--kubernetes-version 1.30.0] RENDERED.yaml...

Each file is the output of `kubectl kustomize` for one kustomization.

* Built-in kinds are validated with kubernetes-validate against the Kubernetes OpenAPI schemas
  in their strict variant: an unknown or misspelt field is an error.
* PodMonitor, PrometheusRule (Prometheus Operator) and ScaledObject (KEDA) are validated against
  JSON Schemas of the cloudcoil models generated from those projects' CRDs, made strict the same
  way (additionalProperties: false wherever an object lists its properties).
* A kind with no schema is an error, never a silent pass.
* The worker's Deployment must keep its contract: probes on /livez and /readyz, the non-root
  and read-only security context, resources, the config and key mounts, and a termination grace
  period longer than worker.shutdown_grace in the rendered ConfigMap.
* The API's Deployment (mailroom-api) the same security context, probes and resources, on its
  port `api` = api.listen's, with api.keys_file in a mounted Secret it may read.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tomllib
from typing import Any, Callable, Iterator

import jsonschema
import yaml
from kubernetes_validate import utils as kv


def custom_models() -> dict[tuple[str, str], Any]:
    from cloudcoil.models.keda import v1alpha1 as keda_v1alpha1
    from cloudcoil.models.prometheus_operator import v1 as monitoring_v1

    return {
        ("monitoring.coreos.com/v1", "PodMonitor"): monitoring_v1.PodMonitor,
        ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring_v1.PrometheusRule,
        ("keda.sh/v1alpha1", "ScaledObject"): keda_v1alpha1.ScaledObject,
    }


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def go_pattern(pattern: str) -> str:
    """CRD patterns are Go (RE2) regular expressions; Python wants global flags first."""
    flags = "".join(re.findall(r"\(\?([imsU]+)\)", pattern))
    if not flags:
        return pattern
    return f"(?{''.join(sorted(set(flags.replace('U', ''))))})" + re.sub(r"\(\?[imsU]+\)", "", pattern)


def make_strict(schema: Any) -> None:
    """Forbid unknown properties in every object schema that lists its properties."""
    if not isinstance(schema, dict):
        return
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    if isinstance(schema.get("pattern"), str):
        schema["pattern"] = go_pattern(schema["pattern"])
    for key in _SCHEMA_MAPS:
        for sub in (schema.get(key) or {}).values():
            make_strict(sub)
    for key in _SCHEMA_LISTS:
        for sub in schema.get(key) or []:
            make_strict(sub)
    for key in _SCHEMA_ONE:
        make_strict(schema.get(key))


def custom_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    validators = {}
    for (api_version, kind), model in custom_models().items():
        schema = copy.deepcopy(model.model_json_schema(by_alias=True, mode="validation"))
        make_strict(schema)
        schema.setdefault("required", [])
        for field, value in (("apiVersion", api_version), ("kind", kind)):
            schema["properties"][field] = {"const": value}
            if field not in schema["required"]:
                schema["required"].append(field)
        jsonschema.Draft202012Validator.check_schema(schema)
        validators[(api_version, kind)] = jsonschema.Draft202012Validator(schema)
    return validators


def innermost(err: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For anyOf/oneOf (optional fields), report the failing branch, not the whole value."""
    while err.context:
        branches = [e for e in err.context if e.validator != "type" or e.instance is not None]
        deepest = max(branches or err.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) <= len(err.absolute_path) and deepest.validator == "type":
            break
        err = deepest
    return err


def name_of(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{doc.get('kind')}/{(ns + '/') if ns else ''}{meta.get('name')}"


def duration_seconds(text: str) -> float:
    """Parse a mailroom duration such as "30s", "500ms", "1h", "3days"."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400,
             "day": 86400, "days": 86400}
    total, pos = 0.0, 0
    for m in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)", text):
        if m.start() != pos or m.group(2) not in units:
            raise ValueError(f"cannot read duration {text!r}")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"cannot read duration {text!r}")
    return total


def deployment_rules(doc: dict, configmaps: dict[str, dict]) -> Iterator[str]:
    """mailroom's own requirements on its Deployments: the worker's, or the API's."""
    name = doc["metadata"]["name"]
    role = "mailroom-api" if name == "mailroom-api" else "mailroom"
    pod = doc["spec"]["template"]["spec"]
    labels = doc["spec"]["template"].get("metadata", {}).get("labels", {})
    if labels.get("app.kubernetes.io/name") != role:
        yield f"pod label app.kubernetes.io/name must be {role}"
    psc = pod.get("securityContext", {})
    for key, want in (("runAsNonRoot", True), ("runAsUser", 65532)):
        if psc.get(key) != want:
            yield f"spec.template.spec.securityContext.{key} must be {want}"
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        yield "spec.template.spec.securityContext.seccompProfile.type must be RuntimeDefault"
    if pod.get("automountServiceAccountToken") is not False:
        yield "spec.template.spec.automountServiceAccountToken must be false"
    containers = {c["name"]: c for c in pod.get("containers", [])}
    worker = containers.get(role)
    if worker is None:
        yield f"no container named {role}"
        return
    sc = worker.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False:
        yield "container securityContext.allowPrivilegeEscalation must be false"
    if sc.get("readOnlyRootFilesystem") is not True:
        yield "container securityContext.readOnlyRootFilesystem must be true"
    if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
        yield "container securityContext.capabilities.drop must be [ALL]"
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"),
                        ("readinessProbe", "/readyz")):
        got = ((worker.get(probe) or {}).get("httpGet") or {}).get("path")
        if got != path:
            yield f"{probe} must be an httpGet on {path} (is {got})"
    res = worker.get("resources", {})
    for part in ("requests", "limits"):
        for what in ("cpu", "memory"):
            if what not in (res.get(part) or {}):
                yield f"resources.{part}.{what} is missing"
    ports = {p.get("name"): p.get("containerPort") for p in worker.get("ports", [])}
    if role == "mailroom-api":
        yield from api_rules(pod, worker, ports, configmaps)
        return
    if ports.get("http") != 9187:
        yield "container port named http must be 9187"
    env = {e["name"]: e for e in worker.get("env", [])}
    config_path = (env.get("MAILROOM_CONFIG") or {}).get("value")
    if not config_path:
        yield "env MAILROOM_CONFIG is not set"
        return
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in worker.get("volumeMounts", [])}
    config_dir, _, config_file = config_path.rpartition("/")
    mount = mounts.get(config_dir)
    cm_name = ((volumes.get(mount["name"]) or {}).get("configMap") or {}).get("name") if mount else None
    if cm_name is None or cm_name not in configmaps:
        yield f"MAILROOM_CONFIG {config_path} is not a file of a ConfigMap in this render"
        return
    try:
        config = tomllib.loads(configmaps[cm_name].get("data", {})[config_file])
    except (KeyError, tomllib.TOMLDecodeError) as e:
        yield f"ConfigMap {cm_name} has no valid {config_file}: {e}"
        return
    grace = duration_seconds(config.get("worker", {}).get("shutdown_grace", "30s"))
    period = pod.get("terminationGracePeriodSeconds", 30)
    if period < grace + 10:
        yield (f"terminationGracePeriodSeconds ({period}) must exceed worker.shutdown_grace "
               f"({grace:g}s) by at least 10s")
    listen = config.get("http", {}).get("listen", "")
    if not listen.endswith(":9187"):
        yield f"http.listen ({listen!r}) must use port 9187, the container port"
    key = config.get("credentials", {}).get("service_account_key")
    if key:
        key_dir = key.rpartition("/")[0]
        kmount = mounts.get(key_dir)
        if not kmount or "secret" not in volumes.get(kmount["name"], {}):
            yield f"credentials.service_account_key {key} is not in a mounted Secret"


def mounted_config(pod: dict, container: dict, configmaps: dict[str, dict]) -> tuple[dict | None, str]:
    """The TOML that MAILROOM_CONFIG names in a rendered ConfigMap, or an error."""
    env = {e["name"]: e for e in container.get("env", [])}
    config_path = (env.get("MAILROOM_CONFIG") or {}).get("value")
    if not config_path:
        return None, "env MAILROOM_CONFIG is not set"
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    config_dir, _, config_file = config_path.rpartition("/")
    mount = mounts.get(config_dir)
    cm_name = ((volumes.get(mount["name"]) or {}).get("configMap") or {}).get("name") if mount else None
    if cm_name is None or cm_name not in configmaps:
        return None, f"MAILROOM_CONFIG {config_path} is not a file of a ConfigMap in this render"
    try:
        return tomllib.loads(configmaps[cm_name].get("data", {})[config_file]), ""
    except (KeyError, tomllib.TOMLDecodeError) as e:
        return None, f"ConfigMap {cm_name} has no valid {config_file}: {e}"


def api_rules(pod: dict, container: dict, ports: dict, configmaps: dict[str, dict]) -> Iterator[str]:
    """The API's port, listen address and key file."""
    if ports.get("api") != 8025:
        yield "container port named api must be 8025"
    config, error = mounted_config(pod, container, configmaps)
    if config is None:
        yield error
        return
    api = config.get("api", {})
    if not api.get("listen", "").endswith(":8025"):
        yield f"api.listen ({api.get('listen')!r}) must use port 8025, the container port"
    keys = api.get("keys_file")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    kmount = mounts.get((keys or "").rpartition("/")[0])
    secret = (volumes.get(kmount["name"], {}) if kmount else {}).get("secret")
    if not keys or secret is None:
        yield f"api.keys_file {keys} is not in a mounted Secret"
    elif secret.get("defaultMode", 0o644) & 0o040 and not config.get("credentials", {}).get(
            "allow_group_readable_secrets"):
        yield ("the key file's Secret is group-readable: set "
               "credentials.allow_group_readable_secrets = true, or the API refuses it")


def redis_ports(url: str) -> set[int]:
    """TCP ports of a redis.url: redis://, rediss://, redis+cluster://h1:p,h2:p (none for unix)."""
    scheme, _, rest = url.partition("://")
    if "unix" in scheme:
        return set()
    hosts = rest.split("/")[0].rpartition("@")[2]
    ports = set()
    for host in hosts.split(","):
        port = host.rpartition(":")[2] if not host.endswith("]") else ""
        ports.add(int(port) if port.isdigit() else 6379)
    return ports


def network_rules(docs: list[dict], configmaps: dict[str, dict]) -> Iterator[str]:
    """The NetworkPolicy lets the worker reach the Redis port(s) of its configuration."""
    egress_ports: set = set()
    for doc in docs:
        if doc.get("kind") == "NetworkPolicy":
            for rule in doc["spec"].get("egress", []):
                egress_ports |= {p.get("port") for p in rule.get("ports", [])}
    if not egress_ports:
        return
    for name, cm in configmaps.items():
        for file, text in (cm.get("data") or {}).items():
            if not file.endswith(".toml"):
                continue
            url = tomllib.loads(text).get("redis", {}).get("url")
            for port in sorted(redis_ports(url or "")):
                if port not in egress_ports:
                    yield f"ConfigMap {name}: redis.url port {port} is not allowed by the NetworkPolicy egress"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubernetes-version", default="1.30.0")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    validators = custom_validators()
    failures = 0
    for path in args.files:
        failed_before = failures
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        configmaps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
        kinds: list[str] = []
        for doc in docs:
            what = name_of(doc)
            key = (doc.get("apiVersion"), doc.get("kind"))
            errors: list[str] = []
            if key in validators:
                for err in validators[key].iter_errors(doc):
                    err = innermost(err)
                    loc = ".".join(str(p) for p in err.absolute_path) or "(top)"
                    errors.append(f"{loc}: {err.message}")
            else:
                try:
                    kv.validate(doc, args.kubernetes_version, strict=True)
                except kv.ValidationError as err:
                    loc = ".".join(str(p) for p in err.path) or "(top)"
                    errors.append(f"{loc}: {err.message}")
                except kv.SchemaNotFoundError as err:
                    errors.append(f"no schema: {err.message}")
            rules: dict[str, Callable[[dict], Iterator[str]]] = {
                "Deployment": lambda d: deployment_rules(d, configmaps),
            }
            if not errors and doc.get("kind") in rules:
                errors.extend(rules[doc["kind"]](doc))
            for e in errors:
                print(f"ERROR {path}: {what}: {e}")
            failures += bool(errors)
            kinds.append(doc.get("kind", "?"))
        for e in network_rules(docs, configmaps):
            print(f"ERROR {path}: {e}")
            failures += 1
        print(f"{path}: {len(docs)} objects ({', '.join(sorted(kinds))}) "
              f"{'valid' if failures == failed_before else 'INVALID'} against Kubernetes "
              f"{args.kubernetes_version} (strict) and the CRD schemas")
    if failures:
        print(f"{failures} object(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
