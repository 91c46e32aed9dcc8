//! deploy/kubernetes: the kustomize base renders with `kubectl kustomize`,
//! every object validates (strict) against the Kubernetes schemas bundled
//! by `kubernetes-validate` (offline), the `images:` entry reaches every
//! container, and every container's arguments, with the `$(VAR)`s
//! Kubernetes expands filled in, are accepted by etcd-doctor's own parser.

use std::path::Path;
use std::process::Command;

use clap::Parser;
use serde::Deserialize;
use serde_json::Value;

const BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");

fn rendered() -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize", BASE])
        .output()
        .expect("kubectl (scripts/install-test-deps installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

/// The pod spec of a workload (Job, CronJob, DaemonSet), if `o` is one.
fn pod_spec(o: &Value) -> Option<&Value> {
    match o["kind"].as_str()? {
        "CronJob" => Some(&o["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        "Job" | "DaemonSet" => Some(&o["spec"]["template"]["spec"]),
        _ => None,
    }
}

/// Every container spec of the workloads, with the object's kind and name.
fn containers(objects: &[Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default();
        let Some(pod) = pod_spec(o) else { continue };
        for c in pod["containers"].as_array().unwrap() {
            out.push((format!("{kind}/{}", o["metadata"]["name"]), c.clone()));
        }
    }
    out
}

/// Example values for the variables the manifests expand.
fn expand(arg: &str) -> String {
    arg.replace("$(PEERS)", "10.0.0.12:7480,10.0.0.13:7480")
        .replace("$(TOKEN)", "secret")
        .replace("$(NODE_IP)", "10.0.0.11")
}

#[test]
fn the_base_renders_and_validates_against_the_kubernetes_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    let out = Command::new("kubectl")
        .args(["kustomize", BASE, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.33.0"])
        .arg(&file)
        .output()
        .expect("kubernetes-validate (scripts/install-test-deps installs it)");
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert_eq!(log.matches(" passed ").count(), 8, "{log}");
}

#[test]
fn every_container_runs_the_configured_image_with_arguments_the_binary_accepts() {
    let objects = rendered();
    let all = containers(&objects);
    let kinds: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(all.len(), 5, "{kinds:?}");
    for (what, c) in &all {
        assert_eq!(
            c["image"], "registry.example.com/etcd-doctor:0.1.0",
            "{what}"
        );
        let args: Vec<String> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| expand(a.as_str().unwrap()))
            .collect();
        let argv = std::iter::once("etcd-doctor".to_string()).chain(args.iter().cloned());
        if let Err(e) = etcd_doctor::cli::Cli::try_parse_from(argv) {
            panic!("{what}: {args:?} rejected: {e}");
        }
    }
}

#[test]
fn workloads_stay_on_control_plane_nodes_with_bounded_resources() {
    for o in rendered() {
        let kind = o["kind"].as_str().unwrap_or_default();
        let Some(pod) = pod_spec(&o) else { continue };
        let name = &o["metadata"]["name"];
        assert_eq!(pod["hostNetwork"], true, "{name}");
        assert!(
            pod["nodeSelector"]
                .get("node-role.kubernetes.io/control-plane")
                .is_some(),
            "{name}"
        );
        assert!(
            pod["tolerations"].to_string().contains("control-plane"),
            "{name}"
        );
        for c in pod["containers"].as_array().unwrap() {
            assert!(c["resources"]["limits"]["memory"].is_string(), "{name}");
            assert!(c["resources"]["limits"]["cpu"].is_string(), "{name}");
        }
        if kind == "Job" && name == "etcd-doctor-diagnose" {
            for m in pod["containers"][0]["volumeMounts"].as_array().unwrap() {
                assert_eq!(m["readOnly"], true, "{m}");
            }
        }
    }
    assert!(Path::new(BASE).join("Dockerfile").exists());
}

/// deploy/kubernetes/monitoring (outside the base: it needs the
/// Prometheus Operator's CRDs): the PodMonitor selects the watch
/// DaemonSet's pods and port; every PrometheusRule alert is on a finding
/// id of the registry with a severity its rule gives.
#[test]
fn the_monitoring_objects_parse_and_name_registry_findings() {
    let dir = Path::new(BASE).join("monitoring");
    let doc = |name: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        Value::deserialize(yaml_serde::Deserializer::from_str(&text)).unwrap()
    };
    let watch = rendered()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "etcd-doctor-watch")
        .expect("the watch DaemonSet");
    let pm = doc("podmonitor.yaml");
    assert_eq!(pm["kind"], "PodMonitor");
    assert_eq!(
        pm["spec"]["selector"]["matchLabels"],
        watch["spec"]["template"]["metadata"]["labels"]
    );
    let port = &watch["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"];
    assert_eq!(&pm["spec"]["podMetricsEndpoints"][0]["port"], port);
    let rule = doc("prometheusrule.yaml");
    assert_eq!(rule["kind"], "PrometheusRule");
    let alerts = rule["spec"]["groups"][0]["rules"].as_array().unwrap();
    assert!(alerts.len() >= etcd_doctor::findings::RULES.len());
    for a in alerts {
        let expr = a["expr"].as_str().unwrap();
        let id = a["labels"]["finding"].as_str().unwrap();
        let r = etcd_doctor::findings::RULES
            .iter()
            .find(|r| r.id.as_str() == id)
            .unwrap_or_else(|| panic!("{id} is not in the registry"));
        let sev = if expr.contains("severity=\"fail\"") {
            etcd_doctor::findings::Severity::Fail
        } else {
            etcd_doctor::findings::Severity::Warn
        };
        assert!(r.severities.contains(&sev), "{id}: {expr}");
        assert!(
            expr.contains(&format!("etcd_doctor_finding{{id=\"{id}\"")),
            "{expr}"
        );
        assert!(a["annotations"]["runbook_url"]
            .as_str()
            .unwrap()
            .ends_with("/report"));
    }
}

/// The PrometheusRule's groups pass `promtool check rules`, and one
/// critical alert behaves under `promtool test rules`: not firing after
/// 1 min of its finding (`for: 2m`), firing after 3 min with the
/// finding's labels and the runbook link to the node's `/report`.
#[test]
fn promtool_checks_the_rules_and_one_alert_fires_after_its_for() {
    let Some(promtool) = crate::support::promtool::find("promtool check rules") else {
        return;
    };
    let text =
        std::fs::read_to_string(Path::new(BASE).join("monitoring/prometheusrule.yaml")).unwrap();
    let rule = Value::deserialize(yaml_serde::Deserializer::from_str(&text)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    let groups = serde_json::json!({ "groups": rule["spec"]["groups"] });
    std::fs::write(&rules, groups.to_string()).unwrap();
    let path = rules.to_str().unwrap();
    let out = crate::support::promtool::run(&promtool, &["check", "rules", path], b"");
    assert!(out.status.success(), "promtool check rules: {out:?}");

    let alert = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["severity"] == "critical")
        .expect("a critical alert");
    let id = alert["labels"]["finding"].as_str().unwrap();
    let (member, instance) = ("m1", "10.0.0.1:9379");
    let fill = |t: &Value| {
        t.as_str()
            .unwrap()
            .replace("{{ $labels.member }}", member)
            .replace("{{ $labels.instance }}", instance)
    };
    let test = serde_json::json!({
        "rule_files": [path],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": [{
                "series": format!(
                    "etcd_doctor_finding{{id=\"{id}\",severity=\"fail\",member=\"{member}\",instance=\"{instance}\"}}"
                ),
                "values": "1x20",
            }],
            "alert_rule_test": [
                { "eval_time": "1m", "alertname": alert["alert"], "exp_alerts": [] },
                {
                    "eval_time": "3m",
                    "alertname": alert["alert"],
                    "exp_alerts": [{
                        "exp_labels": {
                            "severity": "critical",
                            "finding": id,
                            "member": member,
                            "instance": instance,
                        },
                        "exp_annotations": {
                            "summary": fill(&alert["annotations"]["summary"]),
                            "runbook_url": fill(&alert["annotations"]["runbook_url"]),
                        },
                    }],
                },
            ],
        }],
    });
    let tests = dir.path().join("tests.json");
    std::fs::write(&tests, test.to_string()).unwrap();
    let out =
        crate::support::promtool::run(&promtool, &["test", "rules", tests.to_str().unwrap()], b"");
    assert!(out.status.success(), "promtool test rules: {out:?}");
}

/// The Grafana dashboard: JSON with panels whose queries name only
/// metrics `watch` or etcd expose; the canary's fsync p99 shares a panel
/// with etcd's WAL fsync p99 (same bucket layout).
#[test]
fn the_dashboard_queries_metrics_that_exist() {
    let path = Path::new(BASE).join("monitoring/grafana-dashboard.json");
    let d: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let page = etcd_doctor::watch::expose::render(
        &etcd_doctor::watch::expose::Totals::default(),
        &[],
        &etcd_doctor::watch::expose::Unread::default(),
        "m",
    );
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 4);
    let mut exprs = Vec::new();
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    let names = regex::Regex::new(r"\b(etcd_[a-z_]+)").unwrap();
    for e in &exprs {
        for m in names.captures_iter(e) {
            let name = &m[1];
            let base = name.trim_end_matches("_bucket");
            let ours = page.contains(&format!("# TYPE {base} ")) || base == "etcd_doctor_finding";
            let etcds = base.starts_with("etcd_disk_") || base.starts_with("etcd_network_");
            assert!(ours || etcds, "{name} in {e}");
        }
    }
    let fsync = &panels[0]["targets"];
    assert!(fsync
        .to_string()
        .contains("etcd_doctor_canary_fsync_duration_seconds_bucket"));
    assert!(fsync
        .to_string()
        .contains("etcd_disk_wal_fsync_duration_seconds_bucket"));
}
