//! `continuity domain …`: protected domains, their primary, and their
//! continuity state (status, activate, end, drill, monitoring).

use anyhow::{bail, Result};
use clap::Subcommand;

use server::config::{self, TlsMode};
use server::store::Store;

#[derive(Subcommand)]
pub enum DomainCmd {
    /// Add a protected domain and its primary mail server.
    Add {
        /// The domain, e.g. example.com
        name: String,
        /// The primary server, host:port
        #[arg(long)]
        primary: String,
        /// TLS towards the primary: none, opportunistic, required, implicit
        #[arg(long, default_value = "opportunistic")]
        tls: TlsMode,
    },
    /// Change a domain's primary server.
    SetPrimary {
        name: String,
        #[arg(long)]
        primary: String,
        #[arg(long, default_value = "opportunistic")]
        tls: TlsMode,
    },
    /// List protected domains.
    List,
    /// Show a domain's continuity state, held mail and timeline.
    Status { name: String },
    /// Start continuity now (maintenance, or a failure the probe cannot
    /// see): delivery to the primary is held until `domain end`.
    Activate { name: String },
    /// End continuity (or a drill): held mail is delivered to the primary.
    End { name: String },
    /// Rehearse an outage: users see continuity for a while, delivery goes
    /// on normally, and it rolls back by itself.
    Drill {
        name: String,
        /// How long, e.g. 30m
        #[arg(long = "for", default_value = "30m")]
        duration: String,
    },
    /// Change how the primary is watched.
    Monitoring {
        name: String,
        /// Probe interval, e.g. 15s
        #[arg(long, default_value = "15s")]
        interval: String,
        /// Probe timeout, e.g. 10s
        #[arg(long, default_value = "10s")]
        timeout: String,
        /// Consecutive failures that start an outage
        #[arg(long, default_value_t = 2)]
        fail_after: u32,
        /// Consecutive successes that end it
        #[arg(long, default_value_t = 2)]
        recover_after: u32,
        /// Address asked for at RCPT (default postmaster@DOMAIN)
        #[arg(long)]
        probe_rcpt: Option<String>,
    },
}

pub async fn find_domain(store: &Store, name: &str) -> Result<server::store::Domain> {
    match store.domain_by_name(name).await? {
        Some(d) => Ok(d),
        None => bail!("no such domain: {name}"),
    }
}

pub async fn domain_cmd(store: &Store, hostname: &str, cmd: DomainCmd) -> Result<()> {
    match cmd {
        DomainCmd::Add { name, primary, tls } => {
            let (host, port) = config::parse_host_port("--primary", &primary)?;
            let d = store.add_domain(&name, &host, port, tls).await?;
            println!(
                "added domain {} (primary {}:{} {})",
                d.name,
                d.primary_host,
                d.primary_port,
                d.primary_tls.as_str()
            );
        }
        DomainCmd::SetPrimary { name, primary, tls } => {
            let (host, port) = config::parse_host_port("--primary", &primary)?;
            let Some(d) = store.domain_by_name(&name).await? else {
                bail!("no such domain: {name}");
            };
            store.set_primary(d.id, &host, port, tls).await?;
            println!(
                "domain {} now delivers to {host}:{port} ({})",
                d.name,
                tls.as_str()
            );
        }
        DomainCmd::Status { name } => {
            let d = find_domain(store, &name).await?;
            let Some(m) = store.monitored_domain(d.id).await? else {
                bail!("no such domain: {name}");
            };
            println!(
                "{}: {}{}",
                m.name,
                m.state,
                if m.manual_outage {
                    " (started by hand)"
                } else {
                    ""
                }
            );
            println!(
                "  primary {}:{} ({}), probe every {} s (timeout {} s) with RCPT TO:<{}>, outage after {} failures, recovery after {} successes",
                m.primary_host,
                m.primary_port,
                m.primary_tls,
                m.probe_interval_ms / 1000,
                m.probe_timeout_ms / 1000,
                m.probe_rcpt,
                m.fail_after,
                m.recover_after
            );
            println!(
                "  not yet delivered to the primary: {}",
                store.pending_for_domain(d.id).await?
            );
            for t in store.timeline(d.id, 20).await? {
                let at = time::OffsetDateTime::from_unix_timestamp(t.at / 1000)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                println!("  {at}  {} -> {}  {}", t.from, t.to, t.reason);
            }
        }
        DomainCmd::Activate { name } => {
            let d = find_domain(store, &name).await?;
            let mode = server::monitor::command(
                store,
                hostname,
                d.id,
                server::monitor::state::Input::ActivateNow {
                    by: "the command line".into(),
                },
            )
            .await?;
            println!(
                "{}: {} (delivery to the primary is held until `domain end`)",
                d.name,
                mode.as_str()
            );
        }
        DomainCmd::End { name } => {
            let d = find_domain(store, &name).await?;
            let mode = server::monitor::command(
                store,
                hostname,
                d.id,
                server::monitor::state::Input::End {
                    by: "the command line".into(),
                },
            )
            .await?;
            println!("{}: {}", d.name, mode.as_str());
        }
        DomainCmd::Drill { name, duration } => {
            let d = find_domain(store, &name).await?;
            let dur = config::parse_duration("--for", &duration)?;
            let until = server::store::now_ms() + dur.as_millis() as i64;
            let mode = server::monitor::command(
                store,
                hostname,
                d.id,
                server::monitor::state::Input::StartDrill {
                    by: "the command line".into(),
                    until_ms: until,
                },
            )
            .await?;
            println!(
                "{}: {} for {duration} (delivery goes on normally)",
                d.name,
                mode.as_str()
            );
        }
        DomainCmd::Monitoring {
            name,
            interval,
            timeout,
            fail_after,
            recover_after,
            probe_rcpt,
        } => {
            let d = find_domain(store, &name).await?;
            let i = config::parse_duration("--interval", &interval)?;
            let t = config::parse_duration("--timeout", &timeout)?;
            store
                .set_monitoring(
                    d.id,
                    i.as_millis() as i64,
                    t.as_millis() as i64,
                    fail_after,
                    recover_after,
                    probe_rcpt.as_deref(),
                )
                .await?;
            println!("{}: monitoring updated", d.name);
        }
        DomainCmd::List => {
            for d in store.domains().await? {
                println!(
                    "{}\t{}:{}\t{}",
                    d.name,
                    d.primary_host,
                    d.primary_port,
                    d.primary_tls.as_str()
                );
            }
        }
    }
    Ok(())
}
