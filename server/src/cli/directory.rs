//! `continuity directory …`: a domain's users from LDAP / Active Directory
//! (settings, test, sync with a dry run) or from a CSV file.

use std::io::IsTerminal;

use anyhow::{bail, Result};
use clap::Subcommand;

use server::config;
use server::dirsync::{self, plan::Plan};
use server::store::directories::DirectoryConfig;
use server::store::Store;

use crate::domains::find_domain;

#[derive(Subcommand)]
// parsed once per run: the size of its largest variant costs nothing
#[allow(clippy::large_enum_variant)]
pub enum DirectoryCmd {
    /// Set (or replace) the domain's directory settings.
    Set {
        domain: String,
        /// ldap://host:389 or ldaps://host:636
        #[arg(long)]
        url: String,
        /// Upgrade ldap:// with StartTLS
        #[arg(long)]
        starttls: bool,
        /// Allow a plain ldap:// URL without StartTLS (the bind password
        /// travels in clear: only on a network you trust)
        #[arg(long)]
        allow_plaintext: bool,
        /// PEM file with the CA of the directory's certificate
        #[arg(long)]
        ca: Option<String>,
        /// The DN to bind as (anonymous if not given)
        #[arg(long, default_value = "")]
        bind_dn: String,
        /// A file holding the bind password (read at each sync; never stored)
        #[arg(long)]
        bind_password_file: Option<String>,
        /// Where the users are, e.g. ou=people,dc=example,dc=com
        #[arg(long)]
        base_dn: String,
        /// Which entries are users
        #[arg(long, default_value = "(mail=*)")]
        filter: String,
        /// Only members of this group (nested groups on Active Directory)
        #[arg(long)]
        group: Option<String>,
        /// openldap or ad (Active Directory: proxyAddresses, disabled accounts)
        #[arg(long, default_value = "openldap")]
        kind: String,
        /// How often it runs by itself
        #[arg(long, default_value = "1h")]
        every: String,
        /// Refuse a run that would disable more than this share of users (%)
        #[arg(long, default_value_t = 20)]
        max_disable: u32,
        /// The attribute holding users' mobile numbers ("" for none)
        #[arg(long, default_value = "mobile")]
        mobile_attr: String,
        /// The attribute holding users' backup addresses ("" for none)
        #[arg(long, default_value = "otherMailbox")]
        alt_email_attr: String,
    },
    /// Show the settings and the last run.
    Show { domain: String },
    /// Bind and count the users the settings select; nothing is changed.
    Test { domain: String },
    /// Sync now.
    Sync {
        domain: String,
        /// Only show what would change
        #[arg(long)]
        dry_run: bool,
        /// Apply even if more users would be disabled than the guard allows
        #[arg(long)]
        force: bool,
    },
    /// Add or update local users from a CSV file:
    /// address,name,aliases[,mobile[,backup_address]] (where each user is
    /// told of outages).
    ImportCsv {
        domain: String,
        file: std::path::PathBuf,
        #[arg(long)]
        dry_run: bool,
    },
}

fn print_plan(p: &Plan) {
    for a in &p.adds {
        let aliases = if a.aliases.is_empty() {
            String::new()
        } else {
            format!(" (aliases {})", a.aliases.join(", "))
        };
        println!("  + {}{aliases}", a.address);
    }
    for u in &p.updates {
        println!(
            "  ~ {} (name {:?}, aliases [{}])",
            u.address,
            u.name,
            u.aliases.join(", ")
        );
    }
    for (_, a) in &p.disables {
        println!("  - {a} (disabled)");
    }
    for (_, a) in &p.enables {
        println!("  ^ {a} (enabled again)");
    }
    for w in &p.warnings {
        println!("  ! {w}");
    }
}

async fn settings(store: &Store, domain: &str) -> Result<DirectoryConfig> {
    let d = find_domain(store, domain).await?;
    match store.directory(d.id).await? {
        Some(c) => Ok(c),
        None => bail!("{domain} has no directory settings (continuity directory set {domain} …)"),
    }
}

pub async fn directory_cmd(store: &Store, cmd: DirectoryCmd) -> Result<()> {
    match cmd {
        DirectoryCmd::Set {
            domain,
            url,
            starttls,
            allow_plaintext,
            ca,
            bind_dn,
            bind_password_file,
            base_dn,
            filter,
            group,
            kind,
            every,
            max_disable,
            mobile_attr,
            alt_email_attr,
        } => {
            let d = find_domain(store, &domain).await?;
            if let Some(f) = &bind_password_file {
                if let Err(e) = std::fs::metadata(f) {
                    bail!("cannot read the bind password file {f}: {e}");
                }
            }
            let every = config::parse_duration("--every", &every)?;
            store
                .set_directory(&DirectoryConfig {
                    domain: d.id,
                    url,
                    starttls,
                    ca_file: ca,
                    bind_dn,
                    bind_password_file,
                    base_dn,
                    user_filter: filter,
                    group_dn: group.filter(|g| !g.trim().is_empty()),
                    flavor: kind,
                    interval_s: every.as_secs() as i64,
                    max_disable_pct: max_disable,
                    allow_plaintext,
                    mobile_attr,
                    alt_email_attr,
                })
                .await?;
            println!("{}: directory settings saved", d.name);
        }
        DirectoryCmd::Show { domain } => {
            let c = settings(store, &domain).await?;
            println!(
                "url {}{}",
                c.url,
                if c.starttls {
                    " (StartTLS)"
                } else if c.is_plaintext() {
                    " (plain LDAP allowed by an operator)"
                } else {
                    ""
                }
            );
            if let Some(ca) = &c.ca_file {
                println!("ca {ca}");
            }
            println!(
                "bind {}",
                if c.bind_dn.is_empty() {
                    "(anonymous)"
                } else {
                    &c.bind_dn
                }
            );
            println!("base {}", c.base_dn);
            println!("filter {}", dirsync::filter(&c));
            println!("kind {}", c.flavor);
            println!("every {} s, guard {} %", c.interval_s, c.max_disable_pct);
            if let Some(s) = store.sync_status(c.domain).await? {
                if let Some(at) = s.at {
                    let when = time::OffsetDateTime::from_unix_timestamp(at / 1000)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    println!(
                        "last run {when}: {} {}",
                        if s.ok { "ok" } else { "FAILED" },
                        s.result
                    );
                }
                if !s.diff.is_empty() {
                    println!("last changes {}", s.diff);
                }
            }
        }
        DirectoryCmd::Test { domain } => {
            let c = settings(store, &domain).await?;
            let n = dirsync::test(&c).await?;
            println!("bind ok: {n} users match");
        }
        DirectoryCmd::Sync {
            domain,
            dry_run,
            force,
        } => {
            let c = settings(store, &domain).await?;
            let tty = std::io::stderr().is_terminal();
            let o = dirsync::sync(store, &c, dry_run, force, |n| {
                if tty && n % 100 == 0 {
                    eprint!("\rread {n} entries\x1b[K");
                }
            })
            .await;
            if tty {
                eprint!("\r\x1b[K");
            }
            let o = o?;
            println!(
                "{}{} users: {} to add, {} to update, {} to disable, {} to enable",
                if dry_run { "dry run: " } else { "" },
                o.plan.seen,
                o.plan.adds.len(),
                o.plan.updates.len(),
                o.plan.disables.len(),
                o.plan.enables.len()
            );
            print_plan(&o.plan);
            if !dry_run {
                println!(
                    "{}",
                    if o.applied {
                        "applied"
                    } else {
                        "nothing to change"
                    }
                );
            }
        }
        DirectoryCmd::ImportCsv {
            domain,
            file,
            dry_run,
        } => {
            let d = find_domain(store, &domain).await?;
            let data = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let current = store.sync_users(d.id).await?;
            let (p, errors) = dirsync::csv::plan(&d.name, &data, &current);
            if !errors.is_empty() {
                for e in &errors {
                    eprintln!("{}: {e}", file.display());
                }
                bail!("{} line(s) with problems: nothing imported", errors.len());
            }
            println!(
                "{}{} to add, {} to update",
                if dry_run { "dry run: " } else { "" },
                p.adds.len(),
                p.updates.len() + p.enables.len()
            );
            print_plan(&p);
            if !dry_run && !p.is_empty() {
                store.apply_plan(d.id, "local", &p).await?;
                println!("applied");
            }
            if !dry_run && !p.contacts.is_empty() {
                let (changed, warnings) = dirsync::contacts::apply(
                    store,
                    &p.contacts,
                    server::store::contacts::ContactSource::Admin,
                )
                .await?;
                for w in warnings {
                    eprintln!("{w}");
                }
                println!("{changed} contact point(s) set");
            }
        }
    }
    Ok(())
}
