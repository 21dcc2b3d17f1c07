//! Configuration: defaults, files, environment overrides, validation errors.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn example_parses_to_the_defaults() {
    let t: toml::Table = EXAMPLE.parse().expect("example is TOML");
    let from_example = RawConfig::deserialize(toml::Value::Table(t))
        .expect("example has known keys")
        .validate()
        .expect("example validates");
    let defaults = Config::load(None, Vec::new()).expect("defaults validate");
    assert_eq!(format!("{from_example:?}"), format!("{defaults:?}"));
    assert_eq!(defaults.smtp.max_message_size, 50 * 1024 * 1024);
    assert_eq!(defaults.queue.max_age, Duration::from_secs(5 * 86400));
}

#[test]
fn env_overrides_file_values() {
    let c = Config::load(
        None,
        env(&[
            ("CONTINUITY_SMTP_MAX_RECIPIENTS", "7"),
            ("CONTINUITY_SMTP_LISTEN", "127.0.0.1:2600"),
            ("CONTINUITY_SERVER_HOSTNAME", "mx.example.test"),
            ("CONTINUITY_CONFIG", "ignored.toml"),
            ("PATH", "/bin"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.smtp.max_recipients, 7);
    assert_eq!(c.smtp.listen, vec!["127.0.0.1:2600".parse().unwrap()]);
    assert_eq!(c.hostname, "mx.example.test");
}

#[test]
fn bad_values_are_named() {
    let e = Config::load(None, env(&[("CONTINUITY_SMTP_IDLE_TIMEOUT", "soon")])).unwrap_err();
    assert!(e.to_string().contains("smtp.idle_timeout"), "{e}");
    let e = Config::load(None, env(&[("CONTINUITY_SMTP_NO_SUCH_KEY", "1")])).unwrap_err();
    assert!(e.to_string().contains("no_such_key"), "{e}");
    let e = Config::load(None, env(&[("CONTINUITY_OUTBOUND_SMARTHOST", "nohost")])).unwrap_err();
    assert!(e.to_string().contains("outbound.smarthost"), "{e}");
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_size("k", "10MiB").unwrap(), 10 * 1024 * 1024);
    assert_eq!(parse_size("k", "512").unwrap(), 512);
    assert!(parse_size("k", "12 parsecs").is_err());
    assert_eq!(parse_duration("k", "90s").unwrap(), Duration::from_secs(90));
    assert_eq!(
        parse_host_port("k", "[::1]:25").unwrap(),
        ("::1".to_string(), 25)
    );
}

#[test]
fn the_log_is_text_or_json() {
    let c = Config::load(None, Vec::new()).expect("defaults");
    assert_eq!(c.log.format, LogFormat::Text);
    let c = Config::load(None, env(&[("CONTINUITY_LOG_FORMAT", "json")])).expect("json");
    assert_eq!(c.log.format, LogFormat::Json);
    // CONTINUITY_LOG is the filter, not a key of [log]
    let c = Config::load(None, env(&[("CONTINUITY_LOG", "debug")])).expect("a filter");
    assert_eq!(c.log.format, LogFormat::Text);
    let e = Config::load(None, env(&[("CONTINUITY_LOG_FORMAT", "xml")])).unwrap_err();
    assert!(e.to_string().contains("log.format"), "{e}");
    assert!(e.to_string().contains("\"text\" or \"json\""), "{e}");
}

#[test]
fn the_printed_configuration_holds_no_database_password() {
    let c = Config::load(
        None,
        env(&[(
            "CONTINUITY_STORE_URL",
            "\"postgres://continuity:s3cret-pw@db.example.net/continuity\"",
        )]),
    )
    .expect("valid");
    let printed = format!("{c:#?}");
    assert!(!printed.contains("s3cret-pw"), "{printed}");
    assert!(printed.contains("postgres://continuity:***@db.example.net/continuity"));
}

#[test]
fn metrics_are_off_unless_given_a_listener_of_their_own() {
    let c = Config::load(None, Vec::new()).expect("defaults");
    assert_eq!(c.metrics.listen, None);
    let c = Config::load(
        None,
        env(&[("CONTINUITY_METRICS_LISTEN", "127.0.0.1:9310")]),
    )
    .expect("valid");
    assert_eq!(c.metrics.listen, Some("127.0.0.1:9310".parse().unwrap()));
    let e = Config::load(
        None,
        env(&[
            ("CONTINUITY_METRICS_LISTEN", "127.0.0.1:8080"),
            ("CONTINUITY_WEB_LISTEN", "127.0.0.1:8080"),
        ]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("metrics.listen"), "{e}");
    let e = Config::load(None, env(&[("CONTINUITY_METRICS_LISTEN", "everywhere")])).unwrap_err();
    assert!(e.to_string().contains("metrics.listen"), "{e}");
}
