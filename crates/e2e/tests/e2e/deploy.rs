//! The Kubernetes manifests agree with the workers: every KEDA `redis-streams` trigger watches a
//! stream and consumer group its Deployment's worker consumes, and every stream the worker
//! consumes is watched, with the worker's settings computed by Upcheck's own configuration code
//! from the rendered container environment (so a changed default or a new shard cannot drift
//! from what KEDA scales on). Needs `kubectl` (kustomize), as `scripts/check-deploy.sh` does.

use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The rendered documents of one overlay.
fn render(overlay: &str) -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes/overlays").join(overlay);
    let out = std::process::Command::new("kubectl")
        .args(["kustomize", dir.to_str().expect("UTF-8 path")])
        .output()
        .expect("kubectl on PATH (scripts/test.sh needs it for the deploy checks too)");
    assert!(out.status.success(), "kubectl kustomize {overlay}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8 manifests");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The environment a container gets from its literal `env` values and the ConfigMaps its
/// `envFrom` names (values from Secrets are left out: stream settings must not hide there).
fn container_env(
    container: &Value,
    config_maps: &HashMap<String, HashMap<String, String>>,
) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for from in container.get("envFrom").and_then(Value::as_sequence).into_iter().flatten() {
        if let Some(data) = str_at(from, &["configMapRef", "name"]).and_then(|n| config_maps.get(n)) {
            env.extend(data.clone());
        }
    }
    for var in container.get("env").and_then(Value::as_sequence).into_iter().flatten() {
        if let (Some(name), Some(value)) = (str_at(var, &["name"]), str_at(var, &["value"])) {
            env.insert(name.to_string(), value.to_string());
        }
    }
    env
}

/// The (stream, group) pairs `binary` consumes with `env`, computed by the workers' own code.
fn consumed(binary: &str, mut env: HashMap<String, String>) -> BTreeSet<(String, String)> {
    env.entry("DATABASE_URL".into()).or_insert_with(|| "postgres://unused@127.0.0.1/unused".into());
    let settings = upcheck_config::Settings::from_env_map(env).expect("the worker's settings load");
    let s = &settings.streams;
    match binary {
        "upcheck-worker-monitoring" => {
            let keys = upcheck_streams::Keys::new(&settings);
            (0..keys.shards()).map(|n| (keys.monitoring_stream(n), s.monitoring_group.clone())).collect()
        }
        "upcheck-worker-status-change" => [(s.status_change.clone(), s.status_change_group.clone())].into(),
        "upcheck-worker-notification" => [(s.notification.clone(), s.notification_group.clone())].into(),
        other => panic!("unknown worker {other}"),
    }
}

fn streams_agree(overlay: &str) {
    let docs = render(overlay);
    let of_kind = |kind: &'static str| docs.iter().filter(move |d| str_at(d, &["kind"]) == Some(kind));
    let config_maps: HashMap<String, HashMap<String, String>> = of_kind("ConfigMap")
        .filter_map(|cm| {
            let name = str_at(cm, &["metadata", "name"])?.to_string();
            let data = cm.get("data")?.as_mapping()?;
            let data = data
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                .collect();
            Some((name, data))
        })
        .collect();
    let mut workers = HashMap::new();
    for d in of_kind("Deployment") {
        let name = str_at(d, &["metadata", "name"]).expect("name").to_string();
        let containers = d
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec"))
            .and_then(|s| s.get("containers"))
            .and_then(Value::as_sequence)
            .expect("containers");
        for c in containers {
            let binary = c
                .get("command")
                .and_then(Value::as_sequence)
                .and_then(|cmd| cmd.first())
                .and_then(Value::as_str);
            if let Some(binary) = binary.filter(|b| b.starts_with("upcheck-worker-")) {
                workers.insert(name.clone(), consumed(binary, container_env(c, &config_maps)));
            }
        }
    }
    assert_eq!(workers.len(), 3, "{overlay}: three worker Deployments, found {:?}", workers.keys());
    let mut watched: HashMap<String, BTreeSet<(String, String)>> = HashMap::new();
    for so in of_kind("ScaledObject") {
        let target =
            str_at(so, &["spec", "scaleTargetRef", "name"]).expect("scaleTargetRef.name").to_string();
        let triggers =
            so.get("spec").and_then(|s| s.get("triggers")).and_then(Value::as_sequence).expect("triggers");
        for t in triggers.iter().filter(|t| str_at(t, &["type"]) == Some("redis-streams")) {
            let stream = str_at(t, &["metadata", "stream"]).expect("metadata.stream").to_string();
            let group =
                str_at(t, &["metadata", "consumerGroup"]).expect("metadata.consumerGroup").to_string();
            watched.entry(target.clone()).or_default().insert((stream, group));
        }
    }
    for (deployment, streams) in &workers {
        assert_eq!(
            watched.get(deployment),
            Some(streams),
            "{overlay}: the ScaledObject of {deployment} must watch exactly the streams and groups it consumes"
        );
    }
    assert!(
        watched.keys().all(|t| workers.contains_key(t)),
        "{overlay}: a ScaledObject targets a Deployment that is not a worker: {:?}",
        watched.keys()
    );
}

#[test]
fn keda_triggers_watch_exactly_what_each_worker_consumes_in_the_local_infra_overlay() {
    streams_agree("local-infra");
}

#[test]
fn keda_triggers_watch_exactly_what_each_worker_consumes_in_the_external_overlay() {
    streams_agree("external");
}
