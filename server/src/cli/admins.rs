//! `continuity admin …` (Control Panel administrators and API tokens) and
//! `continuity service …` (a domain's Continuity Service settings).

use anyhow::{bail, Result};
use clap::Subcommand;

use server::store::Store;

use crate::domains::find_domain;
use crate::users::read_password;

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Add an administrator: an operator (all domains) or the admin of the
    /// given domains. The password is read from standard input.
    Add {
        /// Login address, e.g. ops@provider.example
        address: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Operator: manages every domain
        #[arg(long, conflicts_with = "domains")]
        operator: bool,
        /// A domain this admin manages (repeatable)
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// List administrators and their domains.
    List,
    /// Where an administrator receives outage alerts (outside the domains
    /// they manage); without an address, no alerts.
    Recovery {
        address: String,
        recovery_address: Option<String>,
    },
    /// Turn off an administrator's two-step login (a lost phone or security
    /// key and no recovery code left): its app, passkeys and recovery codes
    /// go, and their password alone logs in again.
    ResetSecondFactor { address: String },
    /// Tokens of the JSON admin API (/api/admin).
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a token acting as this administrator; it is printed once.
    Create {
        address: String,
        #[arg(long)]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
pub enum ServiceCmd {
    /// Show the domain's Continuity Service settings.
    Show { domain: String },
    /// Activate the Continuity Service for the domain.
    On { domain: String },
    /// Deactivate it (the archive is kept until it expires).
    Off { domain: String },
    /// "all" or "selected" users; switching to all while users are
    /// selected removes them and needs --confirm.
    Scope {
        domain: String,
        scope: String,
        #[arg(long)]
        confirm: bool,
    },
    /// Add a user (address or alias) to the selected users.
    Add { domain: String, address: String },
    /// Remove a user from the selected users.
    Remove { domain: String, address: String },
}

pub async fn service_cmd(store: &Store, cmd: ServiceCmd) -> Result<()> {
    const ACTOR: &str = "the command line";
    let show = |s: server::store::control::ContinuitySettings| {
        println!(
            "{}: Continuity Service {}, scope {}, state {}",
            s.name,
            if s.enabled {
                "activated"
            } else {
                "deactivated"
            },
            s.scope,
            s.state
        );
        for (_, a, n) in s.users {
            println!("  {a}\t{n}");
        }
    };
    let settings = |d: server::store::DomainId| async move {
        store
            .continuity_settings(d)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no such domain"))
    };
    match cmd {
        ServiceCmd::Show { domain } => {
            let d = find_domain(store, &domain).await?;
            show(settings(d.id).await?);
        }
        ServiceCmd::On { domain } => {
            let d = find_domain(store, &domain).await?;
            store.set_continuity_enabled(d.id, true, ACTOR).await?;
            show(settings(d.id).await?);
        }
        ServiceCmd::Off { domain } => {
            let d = find_domain(store, &domain).await?;
            store.set_continuity_enabled(d.id, false, ACTOR).await?;
            show(settings(d.id).await?);
        }
        ServiceCmd::Scope {
            domain,
            scope,
            confirm,
        } => {
            let d = find_domain(store, &domain).await?;
            match store
                .set_continuity_scope(d.id, &scope, confirm, ACTOR)
                .await
            {
                Ok(_) => show(settings(d.id).await?),
                Err(e) => bail!("{e}"),
            }
        }
        ServiceCmd::Add { domain, address } => {
            let d = find_domain(store, &domain).await?;
            match store.add_continuity_user(d.id, &address, ACTOR).await {
                Ok(a) => println!("added {a}"),
                Err(e) => bail!("{e}"),
            }
        }
        ServiceCmd::Remove { domain, address } => {
            let d = find_domain(store, &domain).await?;
            let Some(a) = store
                .account_by_address(&address)
                .await?
                .filter(|a| a.domain == d.id)
            else {
                bail!("{address} is not a user of {}", d.name);
            };
            if !store.remove_continuity_user(d.id, a.user, ACTOR).await? {
                bail!("{} is not in the list", a.address);
            }
            println!("removed {}", a.address);
        }
    }
    Ok(())
}

pub async fn admin_cmd(store: &Store, cmd: AdminCmd) -> Result<()> {
    match cmd {
        AdminCmd::Add {
            address,
            name,
            operator,
            domains,
        } => {
            if !operator && domains.is_empty() {
                bail!("give --operator or at least one --domain");
            }
            let mut ids = Vec::new();
            for d in &domains {
                ids.push(find_domain(store, d).await?.id);
            }
            let first = read_password("Password: ")?;
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                let again = read_password("Again: ")?;
                if again != first {
                    bail!("the two passwords are not the same");
                }
            }
            let problems = server::auth::password::check_policy(&first, &address, &name);
            if !problems.is_empty() {
                let t = app::i18n::Lang::En.t();
                let list: Vec<&str> = problems.iter().map(|p| t.problem(p)).collect();
                bail!("password refused: {}", list.join(" "));
            }
            let hash = tokio::task::spawn_blocking(move || server::auth::password::hash(&first))
                .await?
                .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
            store
                .add_admin(&address, &name, operator, &ids, &hash)
                .await?;
            println!(
                "added {} {address}{}",
                if operator { "operator" } else { "domain admin" },
                if operator {
                    String::new()
                } else {
                    format!(" for {}", domains.join(", "))
                }
            );
        }
        AdminCmd::Token(TokenCmd::Create { address, name }) => {
            let Some(admin) = store.admin_by_address(&address).await? else {
                bail!("no such administrator: {address}");
            };
            if name.trim().is_empty() {
                bail!("give the token a --name (who or what uses it)");
            }
            let token = format!("cty_{}", server::auth::token::random_token());
            let id = store
                .insert_api_token(
                    admin.id,
                    name.trim(),
                    &server::auth::token::sha256(token.as_bytes()),
                )
                .await?;
            println!(
                "token {id} for {} ({}): keep it now, it is not shown again",
                admin.address, admin.role
            );
            println!("{token}");
        }
        AdminCmd::Token(TokenCmd::List) => {
            for t in store.api_tokens().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.admin,
                    t.name,
                    if t.revoked { "revoked" } else { "active" }
                );
            }
        }
        AdminCmd::Token(TokenCmd::Revoke { id }) => {
            if !store.revoke_api_token(id).await? {
                bail!("no active token {id}");
            }
            println!("token {id} revoked");
        }
        AdminCmd::Recovery {
            address,
            recovery_address,
        } => {
            let Some(admin) = store.admin_by_address(&address).await? else {
                bail!("no such administrator: {address}");
            };
            store
                .set_admin_recovery(admin.id, recovery_address.as_deref())
                .await?;
            match recovery_address {
                Some(r) => println!("outage alerts for {} go to {r}", admin.address),
                None => println!("no outage alerts for {}", admin.address),
            }
        }
        AdminCmd::ResetSecondFactor { address } => {
            let Some(admin) = store.admin_by_address(&address).await? else {
                bail!("no such administrator: {address}");
            };
            let owner = server::store::second_factor::Owner::Admin(admin.id);
            if store.remove_second_factor(owner).await? {
                tracing::warn!(admin = admin.id, "two-step login reset by the operator");
                println!("two-step login turned off for {}", admin.address);
            } else {
                println!("{} had no two-step login", admin.address);
            }
        }
        AdminCmd::List => {
            for (a, domains) in store.admins().await? {
                println!(
                    "{}\t{}\t{}{}",
                    a.address,
                    a.role,
                    domains.join(","),
                    if a.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}
