//! `continuity check-config`: what a restart would meet, checked before it
//! — the configuration, the files it names (certificate and key, the
//! smarthost's password, the web assets), the data directory, and the
//! database's migrations against this binary's (read only: nothing is
//! created or migrated). Each check one line; exit status 1 if any failed.

use std::path::Path;

use anyhow::{bail, Result};
use server::config::Config;
use server::store::readiness::Migrations;

/// One line per check; the number that failed.
struct Report {
    failed: usize,
}

impl Report {
    fn ok(&mut self, what: impl std::fmt::Display) {
        println!("ok     {what}");
    }
    fn warn(&mut self, what: impl std::fmt::Display) {
        println!("warn   {what}");
    }
    fn fail(&mut self, what: impl std::fmt::Display) {
        self.failed += 1;
        println!("FAILED {what}");
    }
}

pub async fn check_config(cfg: &Config, origin: &str) -> Result<()> {
    let mut r = Report { failed: 0 };
    r.ok(format!("configuration read ({origin})"));
    match (&cfg.smtp.tls_cert, &cfg.smtp.tls_key) {
        (Some(cert), Some(key)) => match server::tls::server_config(cert, key) {
            Ok(_) => r.ok(format!(
                "TLS certificate {} and its key {}",
                cert.display(),
                key.display()
            )),
            Err(e) => r.fail(format!("TLS certificate: {e}")),
        },
        _ if cfg.smtp.self_signed => {
            r.ok("TLS: a self-signed certificate (made under the data directory)")
        }
        _ => r.ok("TLS: none configured (no STARTTLS, IMAP or submission over TLS)"),
    }
    if let Some(auth) = &cfg.outbound.smarthost_auth {
        match std::fs::read_to_string(&auth.password_file) {
            Ok(p) if !p.lines().next().unwrap_or("").is_empty() => r.ok(format!(
                "the smarthost's password file {}",
                auth.password_file.display()
            )),
            Ok(_) => r.fail(format!(
                "the smarthost's password file {} is empty",
                auth.password_file.display()
            )),
            Err(e) => r.fail(format!(
                "the smarthost's password file {}: {e}",
                auth.password_file.display()
            )),
        }
    }
    if cfg.web.site_root.join("pkg").is_dir() {
        r.ok(format!("web assets in {}", cfg.web.site_root.display()));
    } else {
        // the pages still work, served whole without their script
        r.warn(format!(
            "web assets: no pkg/ in {} ([web] site_root): pages work without their script",
            cfg.web.site_root.display()
        ));
    }
    data_dir(&mut r, &cfg.data_dir);
    match Migrations::of(&cfg.store.url).await {
        Ok(m) if m.absent => r.ok("the database: none yet, created at the first start"),
        Ok(m) if !m.unknown.is_empty() => r.fail(format!(
            "the database has {} migration(s) this binary does not know (first {}): a newer \
             version migrated it, and this one would refuse it",
            m.unknown.len(),
            m.unknown[0]
        )),
        Ok(m) if !m.pending.is_empty() => r.ok(format!(
            "the database: {} migration(s) applied, {} to apply at the next start",
            m.applied,
            m.pending.len()
        )),
        Ok(m) => r.ok(format!(
            "the database: up to date ({} migrations)",
            m.applied
        )),
        Err(e) => r.fail(format!("the database cannot be read: {e}")),
    }
    if r.failed > 0 {
        bail!("{} check(s) failed", r.failed);
    }
    println!("the configuration is ready");
    Ok(())
}

/// The data directory exists and takes a file, or can be made.
fn data_dir(r: &mut Report, dir: &Path) {
    if !dir.exists() {
        match dir
            .parent()
            .filter(|p| p.as_os_str().is_empty() || p.is_dir())
        {
            Some(_) => r.ok(format!(
                "data directory {}: made at the first start",
                dir.display()
            )),
            None => r.fail(format!(
                "data directory {}: neither it nor its parent exists",
                dir.display()
            )),
        }
        return;
    }
    let probe = dir.join(format!(".check-config-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            r.ok(format!("data directory {} is writable", dir.display()));
        }
        Err(e) => r.fail(format!("data directory {}: {e}", dir.display())),
    }
}
