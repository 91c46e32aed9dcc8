//! What etcd was started with, from its three inputs, parsed without I/O so
//! every rule of etcd's own precedence is unit-tested: command-line flags
//! (Go's `flag` package: `-x v`, `--x v`, `--x=v`), `ETCD_*` environment
//! variables and the `--config-file` YAML.
//!
//! Precedence, from etcd v3.5.0 `server/etcdmain/config.go` (`parse`,
//! lines 326-344, and `configFromCmdLine`, line 373): a config file, named
//! by `--config-file` or `ETCD_CONFIG_FILE`, replaces every other flag and
//! variable ("other configuration command line flags and environment
//! variables will be ignored"); otherwise a flag wins over its variable.
//! etcd refuses to start when both are set (`pkg/flags/flag.go`
//! `verifyEnv`, line 85: "conflicting environment variable is shadowed by
//! corresponding command-line flag"), and an empty variable is not used
//! (`setFlagFromEnv`, line 106), so a running etcd never has a conflict.

use std::collections::BTreeMap;

use thiserror::Error;

/// Most flags or variables taken from one input; etcd has about 150.
pub const MAX_ENTRIES: usize = 1024;

/// Longest value kept (a URL list of a large cluster is a few KiB).
pub const MAX_VALUE_LEN: usize = 16 * 1024;

/// Deepest YAML nesting accepted in a config file (etcd's has two levels).
pub const MAX_YAML_DEPTH: usize = 8;

/// etcd's boolean flags that take no value: `--x` alone means true, and
/// the next argument is not theirs. From etcd v3.5.0
/// `server/etcdmain/config.go` `newConfig` (`fs.BoolVar`), the ones a
/// deployment sets.
const BOOL_FLAGS: &[&str] = &[
    "client-cert-auth",
    "peer-client-cert-auth",
    "auto-tls",
    "peer-auto-tls",
    "force-new-cluster",
    "strict-reconfig-check",
    "enable-pprof",
    "enable-v2",
    "debug",
    "version",
    "help",
    "h",
    "experimental-initial-corrupt-check",
    "experimental-enable-distributed-tracing",
    "experimental-compact-hash-check-enabled",
    "experimental-stop-grpc-service-on-defrag",
    "experimental-enable-lease-checkpoint",
    "experimental-enable-lease-checkpoint-persist",
    "experimental-memory-mlock",
    "experimental-peer-skip-client-san-verification",
    "enable-distributed-tracing",
    "memory-mlock",
    "peer-skip-client-san-verification",
    "enable-grpc-gateway",
    "pre-vote",
    "socket-reuse-port",
    "socket-reuse-address",
    "log-rotation-config-json",
];

/// Flag name -> value, as etcd would use it.
pub type Flags = BTreeMap<String, String>;

/// A config file that is not etcd's YAML.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Not YAML, or not a mapping at the top.
    #[error("not an etcd config file (YAML mapping): {0}")]
    Yaml(String),
    /// Nested past [`MAX_YAML_DEPTH`].
    #[error("nests deeper than an etcd config file")]
    TooDeep,
}

/// Flags from a process's argv (argv[0] is the program and skipped). Go's
/// flag package stops at the first non-flag argument and at `--`.
pub fn parse_argv(argv: &[String]) -> Flags {
    let mut flags = Flags::new();
    let mut args = argv.iter().skip(1).take(MAX_ENTRIES * 2).peekable();
    while let Some(arg) = args.next() {
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            break;
        };
        if body.is_empty() || flags.len() >= MAX_ENTRIES {
            break;
        }
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, value.to_string()),
            None if BOOL_FLAGS.contains(&body) => (body, "true".to_string()),
            // A boolean flag this list lacks, followed by the next flag:
            // taking that flag as its value would lose the rest.
            None if args.peek().is_some_and(|next| next.starts_with('-')) => {
                (body, "true".to_string())
            }
            None => (body, args.next().cloned().unwrap_or_default()),
        };
        insert(&mut flags, name, value);
    }
    flags
}

/// `ETCD_*` variables of a NUL-separated environ block as flag names
/// (`ETCD_DATA_DIR` -> `data-dir`, etcd's `FlagToEnv` reversed). Empty
/// values are left out, as etcd leaves them out.
pub fn parse_environ(environ: &[u8]) -> Flags {
    let vars = environ
        .split(|&b| b == 0)
        .take(MAX_ENTRIES * 4)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .filter_map(|kv| kv.split_once('='));
    env_flags(vars)
}

/// `ETCD_*` assignments of a shell-style environment file (Debian's
/// /etc/default/etcd, systemd's `EnvironmentFile=`): `KEY=VALUE` lines,
/// optional `export`, single or double quotes, `#` comments.
pub fn parse_env_file(text: &str) -> (Flags, Option<String>) {
    let mut daemon_args = None;
    let vars: Vec<(&str, String)> = text
        .lines()
        .take(MAX_ENTRIES * 4)
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.strip_prefix("export ").unwrap_or(l))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), unquote(v.trim())))
        .collect();
    for (k, v) in &vars {
        if *k == "DAEMON_ARGS" && !v.is_empty() {
            daemon_args = Some(v.clone());
        }
    }
    let flags = env_flags(vars.iter().map(|(k, v)| (*k, v.as_str())));
    (flags, daemon_args)
}

/// A shell value without its surrounding quotes.
fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Flags named by `ETCD_*` variables; `ETCDCTL_*` and others are not etcd's.
fn env_flags<'a>(vars: impl Iterator<Item = (&'a str, &'a str)>) -> Flags {
    let mut flags = Flags::new();
    for (key, value) in vars {
        let Some(name) = key.strip_prefix("ETCD_") else {
            continue;
        };
        if value.is_empty() || name.is_empty() || flags.len() >= MAX_ENTRIES {
            continue;
        }
        let name = name.to_ascii_lowercase().replace('_', "-");
        insert(&mut flags, &name, value.to_string());
    }
    flags
}

/// The flag that holds feature gates (3.6 on).
pub const FEATURE_GATES: &str = "feature-gates";

/// Keeps `value` under [`MAX_VALUE_LEN`]; a longer one is dropped whole
/// rather than cut into a wrong path. `--feature-gates` given twice adds
/// up, as etcd's featuregate `Set` does; any other flag given twice is
/// its last value, as Go's flag package keeps.
fn insert(flags: &mut Flags, name: &str, value: String) {
    if value.len() > MAX_VALUE_LEN || name.len() > 128 {
        return;
    }
    match flags.get_mut(name) {
        Some(gates) if name == FEATURE_GATES => {
            if gates.len() + value.len() < MAX_VALUE_LEN {
                gates.push(',');
                gates.push_str(&value);
            }
        }
        _ => {
            flags.insert(name.to_string(), value);
        }
    }
}

/// The settings of an etcd config file as flag names: top-level keys as
/// they are, `client-transport-security.X` as `X` and
/// `peer-transport-security.X` as `peer-X` (the flags of the same
/// meaning), lists joined by commas. Key names from etcd v3.5.0
/// `server/embed/config.go` (json tags, lines 138-416 and `securityConfig`
/// at line 419).
pub fn parse_config_yaml(text: &str) -> Result<Flags, ConfigError> {
    let value: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
    if depth(&value, 0) > MAX_YAML_DEPTH {
        return Err(ConfigError::TooDeep);
    }
    let yaml_serde::Value::Mapping(top) = value else {
        return Err(ConfigError::Yaml("the top is not a mapping".to_string()));
    };
    let mut flags = Flags::new();
    for (k, v) in top.iter().take(MAX_ENTRIES) {
        let Some(key) = k.as_str() else { continue };
        let prefix = match key {
            "client-transport-security" => "",
            "peer-transport-security" => "peer-",
            _ => {
                if let Some(s) = scalar(v) {
                    insert(&mut flags, key, s);
                }
                continue;
            }
        };
        if let yaml_serde::Value::Mapping(inner) = v {
            for (ik, iv) in inner.iter().take(MAX_ENTRIES) {
                if let (Some(ik), Some(s)) = (ik.as_str(), scalar(iv)) {
                    insert(&mut flags, &format!("{prefix}{ik}"), s);
                }
            }
        }
    }
    Ok(flags)
}

/// A YAML value as etcd's flag text: scalars as written, sequences of
/// scalars joined by commas; `None` for null and nested mappings.
fn scalar(v: &yaml_serde::Value) -> Option<String> {
    use yaml_serde::Value;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().take(MAX_ENTRIES).filter_map(scalar).collect();
            Some(parts.join(","))
        }
        _ => None,
    }
}

/// Nesting depth of `v` (a scalar is 0), stopping past the limit.
fn depth(v: &yaml_serde::Value, at: usize) -> usize {
    use yaml_serde::Value;
    if at > MAX_YAML_DEPTH {
        return at;
    }
    match v {
        Value::Sequence(items) => items
            .iter()
            .map(|i| depth(i, at + 1))
            .max()
            .unwrap_or(at + 1),
        Value::Mapping(m) => m.values().map(|i| depth(i, at + 1)).max().unwrap_or(at + 1),
        Value::Tagged(t) => depth(&t.value, at + 1),
        _ => at,
    }
}

/// Where the settings in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// The config file replaced flags and variables.
    ConfigFile,
    /// Flags, and variables for what no flag set.
    FlagsAndEnv,
}

/// The config file named by a flag or, without one, by `ETCD_CONFIG_FILE`
/// (etcd reads that variable even though other variables then do not count).
pub fn config_file<'a>(flags: &'a Flags, env: &'a Flags) -> Option<&'a str> {
    flags
        .get("config-file")
        .or_else(|| env.get("config-file"))
        .map(String::as_str)
        .filter(|p| !p.is_empty())
}

/// The settings etcd runs with: `file` alone when there is a config file,
/// else `flags` over `env`.
pub fn resolve(flags: Flags, env: Flags, file: Option<Flags>) -> (Flags, Precedence) {
    if let Some(file) = file {
        return (file, Precedence::ConfigFile);
    }
    let mut merged = env;
    merged.extend(flags);
    merged.remove("config-file");
    (merged, Precedence::FlagsAndEnv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn go_flag_forms_are_read() {
        let f = parse_argv(&argv(
            "etcd --name a -data-dir /d --listen-client-urls=http://0.0.0.0:2379 --client-cert-auth --cert-file /c.crt",
        ));
        assert_eq!(f["name"], "a");
        assert_eq!(f["data-dir"], "/d");
        assert_eq!(f["listen-client-urls"], "http://0.0.0.0:2379");
        assert_eq!(f["client-cert-auth"], "true");
        assert_eq!(f["cert-file"], "/c.crt");
    }

    #[test]
    fn an_unknown_boolean_does_not_swallow_the_next_flag() {
        let f = parse_argv(&argv("etcd --experimental-new-thing --data-dir /d"));
        assert_eq!(f["experimental-new-thing"], "true");
        assert_eq!(f["data-dir"], "/d");
    }

    #[test]
    fn parsing_stops_at_the_first_non_flag() {
        let f = parse_argv(&argv("etcd --name a stray --data-dir /d"));
        assert_eq!(f.get("data-dir"), None);
        let f = parse_argv(&argv("etcd --name a -- --data-dir /d"));
        assert_eq!(f.get("data-dir"), None);
    }

    #[test]
    fn environ_names_become_flags_and_others_are_ignored() {
        let env = b"PATH=/bin\0ETCD_DATA_DIR=/var/lib/etcd\0ETCD_NAME=\0ETCDCTL_API=3\0ETCD_HEARTBEAT_INTERVAL=250\0";
        let f = parse_environ(env);
        assert_eq!(f["data-dir"], "/var/lib/etcd");
        assert_eq!(f["heartbeat-interval"], "250");
        assert_eq!(f.get("name"), None, "an empty variable is not used");
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn debian_default_file_is_read() {
        let (f, args) = parse_env_file(
            "# comment\nETCD_NAME=\"n1\"\nexport ETCD_LISTEN_CLIENT_URLS='http://127.0.0.1:2379'\nDAEMON_ARGS=\"--snapshot-count 5000\"\n",
        );
        assert_eq!(f["name"], "n1");
        assert_eq!(f["listen-client-urls"], "http://127.0.0.1:2379");
        assert_eq!(args.as_deref(), Some("--snapshot-count 5000"));
    }

    #[test]
    fn config_yaml_flattens_transport_security() {
        let f = parse_config_yaml(
            "name: m1\ndata-dir: /var/lib/rancher/k3s/server/db/etcd\nheartbeat-interval: 500\n\
             log-outputs: [stderr, /var/log/etcd.log]\nlisten-client-urls: https://127.0.0.1:2379\n\
             client-transport-security:\n  cert-file: /tls/server-client.crt\n  trusted-ca-file: /tls/server-ca.crt\n  client-cert-auth: true\n\
             peer-transport-security:\n  cert-file: /tls/peer.crt\nunused: null\n",
        )
        .unwrap();
        assert_eq!(f["name"], "m1");
        assert_eq!(f["heartbeat-interval"], "500");
        assert_eq!(f["log-outputs"], "stderr,/var/log/etcd.log");
        assert_eq!(f["cert-file"], "/tls/server-client.crt");
        assert_eq!(f["trusted-ca-file"], "/tls/server-ca.crt");
        assert_eq!(f["client-cert-auth"], "true");
        assert_eq!(f["peer-cert-file"], "/tls/peer.crt");
        assert_eq!(f.get("unused"), None);
    }

    #[test]
    fn config_yaml_rejects_junk_and_depth() {
        assert!(parse_config_yaml("- a\n- b\n").is_err());
        assert!(parse_config_yaml("a: [").is_err());
        let deep = "a: ".to_string() + &"[".repeat(20) + &"]".repeat(20);
        assert_eq!(parse_config_yaml(&deep), Err(ConfigError::TooDeep));
    }

    #[test]
    fn config_file_replaces_flags_and_env() {
        let flags = parse_argv(&argv("etcd --config-file /c.yml --name ignored"));
        let env = parse_environ(b"ETCD_DATA_DIR=/ignored\0");
        assert_eq!(config_file(&flags, &env), Some("/c.yml"));
        let file = parse_config_yaml("name: real\n").unwrap();
        let (s, p) = resolve(flags, env, Some(file));
        assert_eq!(p, Precedence::ConfigFile);
        assert_eq!(s["name"], "real");
        assert_eq!(s.get("data-dir"), None);
    }

    #[test]
    fn env_names_the_config_file_too_and_flags_win_over_env() {
        let env = parse_environ(b"ETCD_CONFIG_FILE=/e.yml\0");
        assert_eq!(config_file(&Flags::new(), &env), Some("/e.yml"));
        let flags = parse_argv(&argv("etcd --name flag"));
        let env = parse_environ(b"ETCD_NAME=env\0ETCD_DATA_DIR=/d\0");
        let (s, p) = resolve(flags, env, None);
        assert_eq!(p, Precedence::FlagsAndEnv);
        assert_eq!(s["name"], "flag");
        assert_eq!(s["data-dir"], "/d");
    }

    proptest! {
        #[test]
        fn argv_parser_is_total_and_bounded(args in proptest::collection::vec(".{0,40}", 0..200)) {
            let mut v = vec!["etcd".to_string()];
            v.extend(args);
            let f = parse_argv(&v);
            prop_assert!(f.len() <= MAX_ENTRIES);
            prop_assert!(f.values().all(|v| v.len() <= MAX_VALUE_LEN));
        }

        #[test]
        fn environ_parser_is_total_and_keeps_only_etcd_vars(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let f = parse_environ(&bytes);
            prop_assert!(f.len() <= MAX_ENTRIES);
            prop_assert!(f.keys().all(|k| !k.contains('_') && k.chars().all(|c| !c.is_ascii_uppercase())));
        }

        #[test]
        fn flag_round_trips(name in "[a-z][a-z-]{0,30}", value in "[a-zA-Z0-9/:.,_][a-zA-Z0-9/:.,_=-]{0,60}") {
            prop_assume!(!BOOL_FLAGS.contains(&name.as_str()));
            let f = parse_argv(&["etcd".to_string(), format!("--{name}"), value.clone()]);
            prop_assert_eq!(f.get(&name), Some(&value));
            let f = parse_argv(&["etcd".to_string(), format!("-{name}={value}")]);
            prop_assert_eq!(f.get(&name), Some(&value));
            let env = format!("ETCD_{}={value}", name.to_ascii_uppercase().replace('-', "_"));
            let f = parse_environ(env.as_bytes());
            prop_assert_eq!(f.get(&name), Some(&value));
        }
    }
}
