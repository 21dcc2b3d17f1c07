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
    /// What the domain's admins may name as its primary in the Control
    /// Panel beyond public addresses and the mail ports (25, 465, 587,
    /// 2525). Replaces the list; without options, nothing more.
    PrimaryAllow {
        name: String,
        /// A network (or address) the primary may be in, e.g. 10.0.5.0/24
        #[arg(long = "network")]
        networks: Vec<String>,
        /// Another port the primary may listen on
        #[arg(long = "port")]
        ports: Vec<u16>,
    },
    /// List protected domains.
    List,
    /// Show a domain's continuity state, held mail and timeline.
    Status { name: String },
    /// The reconciliation report: per user, the mail held during the last
    /// outage, how much of it reached the primary since, what still waits,
    /// and what they sent meanwhile.
    Report {
        name: String,
        /// Instead of the last outage, everything held in this past span, e.g. 24h
        #[arg(long)]
        since: Option<String>,
    },
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
    /// Post every change of the continuity state to a URL (signed JSON,
    /// retried): prints the signing secret once.
    Webhook {
        name: String,
        /// https://… (http:// for a receiver on a private network)
        url: Option<String>,
        /// Remove the webhook
        #[arg(long, conflicts_with = "url")]
        off: bool,
    },
    /// Whether the domain's users are told when its continuity starts and
    /// ends (and during drills); without options, show it and who was
    /// told of the last event.
    Notify {
        name: String,
        /// on or off
        #[arg(long)]
        users: Option<String>,
        /// on or off
        #[arg(long)]
        drills: Option<String>,
    },
    /// Whether the domain's users must log in with a second factor (those
    /// without one set it up at their next login; mail apps then need app
    /// passwords); without --users, show it.
    SecondFactor {
        name: String,
        /// required or optional
        #[arg(long)]
        users: Option<String>,
    },
    /// How many days the domain's archive and tracking are kept (90 by
    /// default); without DAYS, show it.
    Retention { name: String, days: Option<i64> },
    /// Make a DKIM key for the domain (it signs what is sent through
    /// Continuity from now on) and print the DNS record to publish.
    DkimKeygen {
        name: String,
        /// The key's selector (default cty<YYYYMM>)
        #[arg(long)]
        selector: Option<String>,
        /// rsa (every verifier checks it) or ed25519 (RFC 8463)
        #[arg(long, default_value = "rsa")]
        algorithm: server::relay::dkim::Algorithm,
        /// RSA key size
        #[arg(long, default_value_t = 2048)]
        bits: usize,
    },
    /// Show the domain's DKIM keys and their DNS records; turn signing off
    /// or on again (with the newest key, or --selector).
    Dkim {
        name: String,
        #[arg(long, conflicts_with = "off")]
        on: bool,
        #[arg(long)]
        off: bool,
        #[arg(long, requires = "on")]
        selector: Option<String>,
    },
    /// Let the domain's own server relay its outbound mail through the
    /// submission listener: from its networks and/or with credentials.
    Relay {
        name: String,
        /// An address or network it relays from (repeat; replaces the list)
        #[arg(long = "allow-ip")]
        allow_ip: Vec<String>,
        /// Also accept loopback and link-local addresses (a primary on this
        /// very machine)
        #[arg(long, requires = "allow_ip")]
        allow_local: bool,
        /// Make new credentials (user: the domain; the password is shown once)
        #[arg(long)]
        secret: bool,
        /// Remove its networks and credentials
        #[arg(long, conflicts_with_all = ["allow_ip", "secret"])]
        off: bool,
    },
    /// Change how the primary is watched.
    Monitoring {
        name: String,
        /// Probe interval, e.g. 5s
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Probe timeout, e.g. 5s
        #[arg(long, default_value = "5s")]
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

/// Unix ms as an RFC 3339 UTC time, to the second.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
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
        DomainCmd::PrimaryAllow {
            name,
            networks,
            ports,
        } => {
            let d = find_domain(store, &name).await?;
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            let allow = server::monitor::reach::PrimaryAllowance::parse(
                &networks.join(" "),
                &ports.join(" "),
            )
            .map_err(anyhow::Error::msg)?;
            store.set_primary_allowance(d.id, &allow).await?;
            if allow == Default::default() {
                println!(
                    "{}: its admins may name a public server on ports 25, 465, 587, 2525",
                    d.name
                );
            } else {
                println!(
                    "{}: its admins may also name a primary in [{}] and on ports [{}]",
                    d.name,
                    allow.networks_text(),
                    allow.ports_text()
                );
            }
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
            let q = store.held_queue(d.id).await?;
            println!(
                "  not yet delivered to the primary: {} ({} held via Continuity){}",
                q.waiting,
                q.via_continuity,
                q.oldest
                    .map(|t| format!(", oldest received {}", rfc3339(t)))
                    .unwrap_or_default()
            );
            for t in store.timeline(d.id, 20).await? {
                println!("  {}  {} -> {}  {}", rfc3339(t.at), t.from, t.to, t.reason);
            }
        }
        DomainCmd::SecondFactor { name, users } => {
            let d = find_domain(store, &name).await?;
            let was = store.users_second_factor(d.id).await?;
            let now = match users.as_deref() {
                None => was,
                Some("required") => true,
                Some("optional") => false,
                Some(other) => bail!("{other:?}: required or optional"),
            };
            if now != was {
                store.set_users_second_factor(d.id, now).await?;
                let word = |b: bool| if b { "required" } else { "optional" };
                store
                    .audit_change(
                        d.id,
                        "cli",
                        "users_second_factor",
                        Some(word(was)),
                        Some(word(now)),
                    )
                    .await?;
            }
            println!(
                "{}: two-step login {} for its users",
                d.name,
                if now { "required" } else { "optional" }
            );
        }
        DomainCmd::Notify {
            name,
            users,
            drills,
        } => {
            let d = find_domain(store, &name).await?;
            let on = |v: Option<String>, was: bool| -> Result<bool> {
                match v.as_deref() {
                    None => Ok(was),
                    Some("on") => Ok(true),
                    Some("off") => Ok(false),
                    Some(other) => bail!("{other:?}: on or off"),
                }
            };
            let (was_users, was_drills) = store.notify_settings(d.id).await?;
            let (u, dr) = (on(users, was_users)?, on(drills, was_drills)?);
            if (u, dr) != (was_users, was_drills) {
                store.set_notify_settings(d.id, u, dr).await?;
                store
                    .audit_change(
                        d.id,
                        "cli",
                        "notify_users",
                        Some(&format!("users={was_users}, drills={was_drills}")),
                        Some(&format!("users={u}, drills={dr}")),
                    )
                    .await?;
            }
            let word = |b: bool| if b { "on" } else { "off" };
            println!(
                "{}: users told {}, during drills {}",
                d.name,
                word(u),
                word(dr)
            );
            for n in store.last_event_notices(d.id).await? {
                println!(
                    "  {} {} {} {} {}{}{}",
                    n.kind.as_str(),
                    n.user_address,
                    n.channel.as_str(),
                    n.address,
                    n.status.as_str(),
                    if n.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", n.detail)
                    },
                    n.delivery
                        .map(|d| format!(" delivery {d}"))
                        .unwrap_or_default()
                );
            }
        }
        DomainCmd::Webhook { name, url, off } => {
            let d = find_domain(store, &name).await?;
            match (url, off) {
                (Some(url), false) => {
                    let secret = store
                        .set_webhook(d.id, Some(&url), false)
                        .await?
                        .unwrap_or_default();
                    println!("{}: state changes are posted to {url}", d.name);
                    println!("signing secret (shown once; keep it in the receiver): {secret}");
                    println!(
                        "each POST carries Continuity-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>"
                    );
                }
                (None, true) => {
                    store.set_webhook(d.id, None, false).await?;
                    println!("{}: webhook removed", d.name);
                }
                _ => {
                    match store.webhook_url(d.id).await? {
                        Some(u) => println!("{}: webhook {u}", d.name),
                        None => println!("{}: no webhook", d.name),
                    }
                    for (id, status, attempts, err, body) in store.webhook_log(d.id, 10).await? {
                        println!(
                            "  #{id} {status} after {attempts} attempt(s){}  {body}",
                            err.map(|e| format!(" (last error: {e})"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        DomainCmd::DkimKeygen {
            name,
            selector,
            algorithm,
            bits,
        } => super::relay::dkim_keygen(store, &name, selector, algorithm, bits).await?,
        DomainCmd::Dkim {
            name,
            on,
            off,
            selector,
        } => super::relay::dkim_show(store, &name, on, off, selector).await?,
        DomainCmd::Relay {
            name,
            allow_ip,
            allow_local,
            secret,
            off,
        } => super::relay::relay(store, &name, allow_ip, allow_local, secret, off).await?,
        DomainCmd::Retention { name, days } => {
            let d = find_domain(store, &name).await?;
            if let Some(days) = days {
                store.set_retention(d.id, days).await?;
            }
            println!(
                "{}: archive and tracking kept {} days",
                d.name,
                store.retention(d.id).await?
            );
        }
        DomainCmd::Report { name, since } => {
            let d = find_domain(store, &name).await?;
            let (from, to) = match since {
                Some(s) => {
                    let span = config::parse_duration("--since", &s)?;
                    (server::store::now_ms() - span.as_millis() as i64, None)
                }
                None => match store.last_outage(d.id).await? {
                    Some(e) => (e.start, e.end),
                    None => bail!(
                        "{}: no outage on record (use --since to pick a span)",
                        d.name
                    ),
                },
            };
            println!(
                "{}: mail held from {} to {}",
                d.name,
                rfc3339(from),
                to.map(rfc3339).unwrap_or_else(|| "now".into())
            );
            println!("user\theld\tdelivered\tpending\tfailed\tsent");
            let rows = store.reconciliation(d.id, from, to, None).await?;
            let mut total = server::store::report::ReportRow::default();
            for r in &rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    r.address, r.held, r.delivered, r.pending, r.failed, r.sent
                );
                total.held += r.held;
                total.delivered += r.delivered;
                total.pending += r.pending;
                total.failed += r.failed;
                total.sent += r.sent;
            }
            println!(
                "total\t{}\t{}\t{}\t{}\t{}",
                total.held, total.delivered, total.pending, total.failed, total.sent
            );
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
