"""The lint of scripts/check-deploy.sh: what a schema cannot see in a rendered overlay.

Usage: deploy_lint.py RENDERED_YAML CORE_OUT_YAML

Checks the KEDA objects (ScaledObject, TriggerAuthentication) and their references (the
streams and consumer groups the triggers watch are checked against the workers' configuration
by the Rust test crates/e2e/tests/e2e/deploy.rs), that no secret value is committed, probes/resources/securityContext on the Upcheck containers,
the references between Services, HPAs, PDBs and their workloads, and that prometheus.io/port
names a declared port (for the API: METRICS_PORT, bound beyond loopback, not PORT). Writes the
non-KEDA objects to CORE_OUT_YAML (for kubernetes-validate), prints the object count on stdout
and the problems on stderr, and exits 1 if there is any.
"""
import os
import re
import sys

import yaml

rendered, core_out = sys.argv[1], sys.argv[2]
with open(rendered) as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]

problems = []


def name_of(o):
    return (o.get("metadata") or {}).get("name", "?")


def ns_of(o):
    return (o.get("metadata") or {}).get("namespace", "")


def bad(o, msg):
    problems.append(f"{o.get('kind', '?')}/{name_of(o)}: {msg}")


KEDA_API = "keda.sh/v1alpha1"
KEDA_KINDS = {"ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SECRET_NAMES = re.compile(r"^(DATABASE_URL|REDIS_URL|JWT_SECRET)$|PASSWORD|SECRET|TOKEN|_AUTH$", re.I)

keda, core = [], []
for d in docs:
    if not isinstance(d, dict) or not d.get("kind") or not d.get("apiVersion") or not name_of(d) or name_of(d) == "?":
        problems.append(f"object without apiVersion/kind/metadata.name: {str(d)[:80]}")
        continue
    group = str(d["apiVersion"]).split("/")[0] if "/" in str(d["apiVersion"]) else ""
    (keda if d["kind"] in KEDA_KINDS or group == "keda.sh" else core).append(d)

index = {}
for d in docs:
    if isinstance(d, dict):
        key = (d.get("kind"), ns_of(d), name_of(d))
        if key in index:
            bad(d, "defined twice in the render")
        index[key] = d


def find(kind, ns, name):
    return index.get((kind, ns, name))


def pod_spec(o):
    spec = o.get("spec") or {}
    if o.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def pod_labels(o):
    return (((o.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector, labels):
    want = (selector or {}).get("matchLabels") or {}
    return bool(want) and all(labels.get(k) == v for k, v in want.items())


def is_int_string(v):
    return isinstance(v, str) and re.fullmatch(r"[1-9][0-9]*", v) is not None


# --- no secret values anywhere -------------------------------------------------------------
for d in docs:
    kind = d.get("kind")
    if kind == "Secret" and ((d.get("data") or {}) or (d.get("stringData") or {})):
        bad(d, "a Secret with data/stringData is in the render: secret values must not be committed; the user creates Secrets (see deploy/kubernetes/README.md)")
    if kind == "ConfigMap":
        for k in (d.get("data") or {}):
            if SECRET_NAMES.search(k):
                bad(d, f"ConfigMap key {k} looks secret: put it in a Secret the user creates")
    if kind in WORKLOAD_KINDS:
        ps = pod_spec(d)
        for c in (ps.get("containers") or []) + (ps.get("initContainers") or []):
            for e in c.get("env") or []:
                if "value" in e and SECRET_NAMES.search(str(e.get("name", ""))):
                    bad(d, f"container {c.get('name')}: env {e.get('name')} has a literal value; use valueFrom.secretKeyRef")


# --- the Upcheck workloads: probes, resources, hardening -----------------------------------
def is_upcheck(o):
    return ((o.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name") == "upcheck"


for d in docs:
    if d.get("kind") not in ("Deployment", "Job") or not is_upcheck(d):
        continue
    ps = pod_spec(d)
    psc = ps.get("securityContext") or {}
    for c in ps.get("containers") or []:
        where = f"container {c.get('name')}"
        if d["kind"] == "Deployment":
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != path:
                    bad(d, f"{where}: {probe} must be an httpGet of {path} (found {got!r})")
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if not (res.get(part) or {}).get(r):
                    bad(d, f"{where}: resources.{part}.{r} is missing")
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            bad(d, f"{where}: securityContext.allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad(d, f"{where}: securityContext.readOnlyRootFilesystem must be true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            bad(d, f"{where}: securityContext.capabilities.drop must contain ALL")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            bad(d, f"{where}: runAsNonRoot must be true")
        for ef in c.get("envFrom") or []:
            ref = (ef.get("configMapRef") or {}).get("name")
            if ref and not find("ConfigMap", ns_of(d), ref):
                bad(d, f"{where}: envFrom names ConfigMap {ref}, which is not in the render")

# --- Services, HPAs, PDBs point at something -------------------------------------------------
workloads = [d for d in docs if d.get("kind") in ("Deployment", "StatefulSet")]
for d in docs:
    kind = d.get("kind")
    if kind == "Service" and (d.get("spec") or {}).get("selector"):
        sel = d["spec"]["selector"]
        matched = [w for w in workloads if ns_of(w) == ns_of(d) and all(pod_labels(w).get(k) == v for k, v in sel.items())]
        if not matched:
            bad(d, f"selector {sel} matches no Deployment/StatefulSet in the render")
        for p in d["spec"].get("ports") or []:
            tp = p.get("targetPort")
            if isinstance(tp, str):
                names = {cp.get("name") for w in matched for c in pod_spec(w).get("containers") or [] for cp in c.get("ports") or []}
                if matched and tp not in names:
                    bad(d, f"targetPort {tp} is not a named container port of the selected pods")
    elif kind == "PodDisruptionBudget":
        if not any(ns_of(w) == ns_of(d) and selects((d.get("spec") or {}).get("selector"), pod_labels(w)) for w in workloads):
            bad(d, "selector matches no Deployment/StatefulSet in the render")
    elif kind == "HorizontalPodAutoscaler":
        ref = (d.get("spec") or {}).get("scaleTargetRef") or {}
        if not find(ref.get("kind"), ns_of(d), ref.get("name")):
            bad(d, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is not in the render")

# --- KEDA ----------------------------------------------------------------------------------
SO_SPEC_KEYS = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"}
TRIGGER_KEYS = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
# Metadata of KEDA's redis-streams scaler (keda.sh/docs/latest/scalers/redis-streams).
REDIS_STREAMS_METADATA = {"address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv",
                          "usernameFromEnv", "passwordFromEnv", "stream", "consumerGroup",
                          "pendingEntriesCount", "streamLength", "lagCount", "activationLagCount",
                          "enableTLS", "unsafeSsl", "databaseIndex"}
# TriggerAuthentication parameters the redis-streams scaler reads.
REDIS_AUTH_PARAMS = {"address", "host", "port", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}
TA_SPEC_KEYS = {"secretTargetRef", "configMapTargetRef", "env", "podIdentity", "hashiCorpVault",
                "azureKeyVault", "awsSecretManager", "gcpSecretManager", "boundServiceAccountToken"}

def container_env(o, c):
    """The container's literal environment (env values and ConfigMaps named by envFrom), and
    the names of variables it takes from elsewhere ("*" for a whole Secret)."""
    env, unknown = {}, set()
    for ef in c.get("envFrom") or []:
        prefix = ef.get("prefix", "")
        if ef.get("configMapRef"):
            cm = find("ConfigMap", ns_of(o), ef["configMapRef"].get("name"))
            for k, v in ((cm or {}).get("data") or {}).items():
                env[prefix + k] = str(v)
        elif ef.get("secretRef"):
            unknown.add("*")
    for e in c.get("env") or []:
        if "value" in e:
            env[e["name"]] = str(e["value"])
        else:
            unknown.add(e.get("name"))
    return env, unknown


def worker_container(dep):
    for c in pod_spec(dep).get("containers") or []:
        cmd = c.get("command") or []
        binary = os.path.basename(str(cmd[0])) if cmd else ""
        if binary.startswith("upcheck-worker-"):
            return c, binary
    return None, None


tas = {}
for d in keda:
    if d.get("apiVersion") != KEDA_API:
        bad(d, f"apiVersion must be {KEDA_API} (found {d.get('apiVersion')})")
    if d["kind"] == "TriggerAuthentication":
        tas[(ns_of(d), name_of(d))] = d
    elif d["kind"] != "ScaledObject":
        bad(d, "unexpected KEDA kind: only ScaledObject and TriggerAuthentication are used here")

ta_params = {}
for (ns, name), ta in tas.items():
    spec = ta.get("spec") or {}
    params = set()
    if not spec:
        bad(ta, "empty spec")
    for k in spec:
        if k not in TA_SPEC_KEYS:
            bad(ta, f"unknown spec field {k!r}")
    for field in ("secretTargetRef", "configMapTargetRef"):
        refs = spec.get(field) or []
        if not isinstance(refs, list):
            bad(ta, f"spec.{field} must be a list")
            continue
        for r in refs:
            if not isinstance(r, dict) or set(r) != {"parameter", "name", "key"} or not all(isinstance(r[k], str) and r[k] for k in r):
                bad(ta, f"spec.{field} entries need exactly parameter, name and key: {r}")
                continue
            if r["parameter"] not in REDIS_AUTH_PARAMS:
                bad(ta, f"spec.{field}: parameter {r['parameter']!r} is not one the redis-streams scaler reads ({', '.join(sorted(REDIS_AUTH_PARAMS))})")
            if r["parameter"] in params:
                bad(ta, f"parameter {r['parameter']} given twice")
            params.add(r["parameter"])
            if field == "configMapTargetRef":
                cm = find("ConfigMap", ns, r["name"])
                if cm is None:
                    bad(ta, f"configMapTargetRef names ConfigMap {r['name']}, which is not in the render")
                elif r["key"] not in (cm.get("data") or {}):
                    bad(ta, f"ConfigMap {r['name']} has no key {r['key']}")
                elif r["parameter"] == "tls" and cm["data"][r["key"]] not in ("enable", "disable"):
                    bad(ta, f"tls must be 'enable' or 'disable' (ConfigMap {r['name']} key {r['key']} is {cm['data'][r['key']]!r})")
    ta_params[(ns, name)] = params

scaled = {}
for so in (d for d in keda if d["kind"] == "ScaledObject"):
    ns = ns_of(so)
    spec = so.get("spec") or {}
    for k in spec:
        if k not in SO_SPEC_KEYS:
            bad(so, f"unknown spec field {k!r}")
    ref = spec.get("scaleTargetRef") or {}
    target = None
    if ref.get("kind", "Deployment") != "Deployment" or ref.get("apiVersion", "apps/v1") != "apps/v1":
        bad(so, f"scaleTargetRef must be an apps/v1 Deployment (found {ref.get('apiVersion')} {ref.get('kind')})")
    else:
        target = find("Deployment", ns, ref.get("name"))
        if target is None:
            bad(so, f"scaleTargetRef names Deployment {ref.get('name')!r}, which is not in the render")
        else:
            scaled.setdefault(ref["name"], []).append(so)
    lo, hi = spec.get("minReplicaCount"), spec.get("maxReplicaCount")
    if not isinstance(lo, int) or isinstance(lo, bool) or lo < 1:
        bad(so, f"minReplicaCount must be set and >= 1 (found {lo!r}): the workers must never scale to zero")
    if not isinstance(hi, int) or isinstance(hi, bool) or (isinstance(lo, int) and hi < lo):
        bad(so, f"maxReplicaCount must be set and >= minReplicaCount (found {hi!r})")
    if target is not None:
        replicas = (target.get("spec") or {}).get("replicas")
        if replicas is not None and (not isinstance(lo, int) or replicas > max(lo, 1)):
            bad(so, f"Deployment {name_of(target)} hard-codes replicas: {replicas}, which fights the autoscaler: leave it unset")
    triggers = spec.get("triggers")
    if not isinstance(triggers, list) or not triggers:
        bad(so, "spec.triggers must be a non-empty list")
        triggers = []
    for i, t in enumerate(triggers):
        where = f"trigger {i}"
        if not isinstance(t, dict):
            bad(so, f"{where}: not a mapping")
            continue
        for k in t:
            if k not in TRIGGER_KEYS:
                bad(so, f"{where}: unknown field {k!r}")
        if t.get("type") != "redis-streams":
            bad(so, f"{where}: type must be redis-streams (found {t.get('type')!r})")
        md = t.get("metadata") or {}
        for k, v in md.items():
            if k not in REDIS_STREAMS_METADATA:
                bad(so, f"{where}: unknown redis-streams metadata {k!r}")
            if not isinstance(v, str):
                bad(so, f"{where}: metadata {k} must be a string (quote it), found {type(v).__name__}")
        for k in ("stream", "consumerGroup"):
            if not (isinstance(md.get(k), str) and md.get(k)):
                bad(so, f"{where}: metadata.{k} is required")
        counts = [k for k in ("pendingEntriesCount", "lagCount") if k in md]
        if len(counts) != 1:
            bad(so, f"{where}: needs exactly one of pendingEntriesCount, lagCount (found {counts or 'none'})")
        for k in counts:
            if not is_int_string(md[k]):
                bad(so, f"{where}: {k} must be a positive integer in quotes (found {md[k]!r})")
        if "streamLength" in md:
            bad(so, f"{where}: streamLength is ignored when consumerGroup is set; use pendingEntriesCount or lagCount")
        auth = t.get("authenticationRef") or {}
        params = set()
        if not auth.get("name"):
            bad(so, f"{where}: authenticationRef.name is required (Redis address and password come from a TriggerAuthentication)")
        elif auth.get("kind", "TriggerAuthentication") != "TriggerAuthentication":
            bad(so, f"{where}: authenticationRef.kind must be TriggerAuthentication")
        elif (ns, auth["name"]) not in tas:
            bad(so, f"{where}: authenticationRef names TriggerAuthentication {auth['name']!r}, which is not in the render")
        else:
            params = ta_params[(ns, auth["name"])]
        if not ({"address", "host"} & params or {"address", "host", "addressFromEnv", "hostFromEnv"} & set(md)):
            bad(so, f"{where}: no Redis address: neither its metadata nor its TriggerAuthentication gives address/host")
        if "tls" in params and ("enableTLS" in md or "unsafeSsl" in md):
            bad(so, f"{where}: TLS is set both in the TriggerAuthentication (tls) and in metadata (enableTLS/unsafeSsl); KEDA rejects that")
    # Whether the streams and groups watched are exactly those the worker consumes is a Rust
    # test that computes them with the workers' own configuration code
    # (crates/e2e/tests/e2e/deploy.rs), so a default changed there cannot drift from here.
    if target is not None and worker_container(target)[0] is None:
        bad(so, f"Deployment {name_of(target)} runs no upcheck-worker-* binary (container command)")

# --- Prometheus scrapes a port that serves /metrics; the API's is not its public one ------------
for d in docs:
    if d.get("kind") != "Deployment" or not is_upcheck(d):
        continue
    annotations = ((((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations")) or {}
    if annotations.get("prometheus.io/scrape") != "true":
        continue
    port = str(annotations.get("prometheus.io/port"))
    for c in pod_spec(d).get("containers") or []:
        declared = {str(p.get("containerPort")) for p in c.get("ports") or []}
        if port not in declared:
            bad(d, f"prometheus.io/port {port} is not a containerPort of container {c.get('name')} ({sorted(declared)})")
        cmd = c.get("command") or []
        if cmd and os.path.basename(str(cmd[0])) == "upcheck-api":
            env, _ = container_env(d, c)
            # Defaults as in crates/config/src/settings.rs.
            metrics, public = env.get("METRICS_PORT", "9090"), env.get("PORT", "8080")
            if port != metrics:
                bad(d, f"prometheus.io/port {port} is not METRICS_PORT {metrics}: the API serves /metrics only there")
            if metrics == public:
                bad(d, f"METRICS_PORT equals PORT ({public}): the API refuses to start")
            if env.get("METRICS_BIND_ADDRESS", "127.0.0.1") in ("127.0.0.1", "localhost", "::1"):
                bad(d, "METRICS_BIND_ADDRESS is loopback (the binary's default): Prometheus cannot scrape the pod; set 0.0.0.0")

hpa_targets = {((d.get("spec") or {}).get("scaleTargetRef") or {}).get("name") for d in docs if d.get("kind") == "HorizontalPodAutoscaler"}
for d in docs:
    if d.get("kind") != "Deployment":
        continue
    c, binary = worker_container(d)
    sos = scaled.get(name_of(d), [])
    if binary and not sos:
        bad(d, f"runs {binary} but no ScaledObject scales it")
    if len(sos) > 1:
        bad(d, f"scaled by {len(sos)} ScaledObjects ({', '.join(name_of(s) for s in sos)}); KEDA allows one")
    if sos and name_of(d) in hpa_targets:
        bad(d, "has both a ScaledObject and a HorizontalPodAutoscaler: KEDA makes its own HPA")

with open(core_out, "w") as f:
    yaml.safe_dump_all(core, f, sort_keys=False)

if problems:
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    sys.exit(1)
print(len(docs))
