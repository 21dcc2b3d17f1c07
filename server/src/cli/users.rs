//! `continuity user …`: users of protected domains, their password and
//! set-password invitations.

use anyhow::{bail, Result};
use clap::Subcommand;

use anyhow::Context;
use server::config::Config;
use server::store::Store;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user (its domain must be protected).
    Add {
        /// Primary address, e.g. alice@example.com
        address: String,
        /// Display name
        #[arg(long, default_value = "")]
        name: String,
        /// An alias address (repeatable)
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// The user comes from the company directory (logs in with an
        /// emergency password only).
        #[arg(long)]
        ldap: bool,
    },
    /// List the users of a domain.
    List { domain: String },
    /// Mail the user a single-use link to set their (emergency) password,
    /// through the normal path to their primary, and print the link.
    Invite { address: String },
    /// Set a user's password (read from standard input, not echoed on a
    /// terminal). The password policy applies.
    SetPassword { address: String },
    /// Where a user is told when their domain's continuity starts and
    /// ends: set by an administrator, these count at once (a user's own,
    /// from Settings, once proved). Without options: show them.
    Contacts {
        address: String,
        /// A backup e-mail address outside the domain
        #[arg(long, conflicts_with = "no_alt_email")]
        alt_email: Option<String>,
        #[arg(long)]
        no_alt_email: bool,
        /// A mobile number with its country code (+33…)
        #[arg(long, conflicts_with = "no_mobile")]
        mobile: Option<String>,
        #[arg(long)]
        no_mobile: bool,
    },
    /// Turn off a user's two-step login (a lost phone or security key and
    /// no recovery code left): its app, passkeys and recovery codes go, and
    /// their password alone logs in again. App passwords are kept.
    ResetSecondFactor { address: String },
}

/// Read a password from standard input; on a terminal, without echo.
pub fn read_password(prompt: &str) -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    if tty {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    r.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn describe_password_error(e: server::auth::PasswordError) -> anyhow::Error {
    use server::auth::PasswordError;
    match e {
        PasswordError::Policy(problems) => {
            let t = app::i18n::Lang::En.t();
            let list: Vec<&str> = problems.iter().map(|p| t.problem(p)).collect();
            anyhow::anyhow!("password refused: {}", list.join(" "))
        }
        PasswordError::NoUser => anyhow::anyhow!("no such user"),
        other => anyhow::anyhow!("{other}"),
    }
}

pub async fn user_cmd(cfg: &Config, store: &Store, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Invite { address } => {
            let auth = server::auth::Auth::new(store.clone(), &cfg.web).await?;
            let Some(account) = store.account_by_address(&address).await? else {
                bail!("no such user: {address}");
            };
            if account.disabled {
                bail!("{} is disabled", account.address);
            }
            let link = auth.issue_link(account.user).await?;
            let days = cfg.web.password_link_ttl.as_secs().div_ceil(86_400);
            let id =
                server::auth::invite::send(store, &account, &link, &cfg.hostname, days).await?;
            println!(
                "invitation for {} queued for delivery (message {id})",
                account.address
            );
            println!("{link}");
        }
        UserCmd::SetPassword { address } => {
            let auth = server::auth::Auth::new(store.clone(), &cfg.web).await?;
            let first = read_password("New password: ")?;
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                let again = read_password("Again: ")?;
                if again != first {
                    bail!("the two passwords are not the same");
                }
            }
            let account = auth
                .set_password(&address, &first)
                .await
                .map_err(describe_password_error)?;
            println!(
                "password set for {} (its sessions were ended)",
                account.address
            );
        }
        UserCmd::Add {
            address,
            name,
            aliases,
            ldap,
        } => {
            let source = if ldap { "ldap" } else { "local" };
            let u = store.add_user(&address, &name, &aliases, source).await?;
            println!(
                "added user {} (aliases: {})",
                u.address,
                u.aliases.join(", ")
            );
        }
        UserCmd::Contacts {
            address,
            alt_email,
            no_alt_email,
            mobile,
            no_mobile,
        } => {
            use server::store::contacts::{Channel, ContactSource};
            let Some(account) = store.account_by_address(&address).await? else {
                bail!("no such user: {address}");
            };
            if let Some(a) = alt_email {
                let a = server::store::admin::normalize_address(&a)
                    .map_err(|_| anyhow::anyhow!("not an e-mail address: {a}"))?;
                if a.eq_ignore_ascii_case(&account.address) {
                    bail!("the backup address must not be the user's own");
                }
                store
                    .set_contact(account.user, Channel::Email, Some(&a), ContactSource::Admin)
                    .await?;
            } else if no_alt_email {
                store
                    .set_contact(account.user, Channel::Email, None, ContactSource::Admin)
                    .await?;
            }
            if let Some(m) = mobile {
                let m = server::notify::sms::normalize_mobile(&m)
                    .map_err(|e| anyhow::anyhow!("{m}: {e}"))?;
                store
                    .set_contact(account.user, Channel::Sms, Some(&m), ContactSource::Admin)
                    .await?;
            } else if no_mobile {
                store
                    .set_contact(account.user, Channel::Sms, None, ContactSource::Admin)
                    .await?;
            }
            let c = store.contact_points(account.user).await?;
            let show = |p: Option<&server::store::contacts::ContactPoint>| match p {
                Some(p) => format!(
                    "{} ({}, {})",
                    p.value,
                    p.source,
                    if p.verified {
                        "confirmed"
                    } else {
                        "not confirmed"
                    }
                ),
                None => "-".into(),
            };
            println!("{}", account.address);
            println!("  backup address: {}", show(c.alt_email.as_ref()));
            println!("  mobile:         {}", show(c.mobile.as_ref()));
        }
        UserCmd::ResetSecondFactor { address } => {
            let Some(account) = store.account_by_address(&address).await? else {
                bail!("no such user: {address}");
            };
            let owner = server::store::second_factor::Owner::User(account.user);
            if store.remove_second_factor(owner).await? {
                tracing::warn!(user = %account.user, "two-step login reset by the operator");
                println!("two-step login turned off for {}", account.address);
            } else {
                println!("{} had no two-step login", account.address);
            }
        }
        UserCmd::List { domain } => {
            let Some(d) = store.domain_by_name(&domain).await? else {
                bail!("no such domain: {domain}");
            };
            for u in store.users(d.id).await? {
                println!(
                    "{}\t{}\t{}{}",
                    u.address,
                    u.display_name,
                    u.aliases.join(","),
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}
