//! `continuity`: the one binary. Commands parse arguments, load the
//! configuration and call into the `server` library; errors end here as
//! `anyhow` reports.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use server::config::{self, Config, TlsMode};
use server::service::{self, StartOptions};
use server::store::Store;

/// Continuity: email continuity for protected domains — always in the
/// inbound path, archiving, delivering to each domain's own server.
#[derive(Parser)]
#[command(name = "continuity", version)]
struct Cli {
    /// Configuration file (TOML). Keys can also come from CONTINUITY_<SECTION>_<KEY>.
    #[arg(long, short, global = true, env = "CONTINUITY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: inbound SMTP, delivery queue and web.
    Serve(ServeArgs),
    /// Run the service with the demo domain (created if missing) and a self-signed certificate.
    Demo(DemoArgs),
    /// Print or check the configuration.
    Config {
        /// Print a documented example configuration with every default.
        #[arg(long)]
        example: bool,
    },
    /// Manage protected domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Manage Control Panel administrators.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Manage users of protected domains.
    #[command(subcommand)]
    User(UserCmd),
    /// The Continuity Service settings of a domain (as in the Control Panel).
    #[command(subcommand)]
    Service(ServiceCmd),
}

#[derive(Args)]
struct ServeArgs {
    /// Also create the demo domain and users if they are missing.
    #[arg(long)]
    demo: bool,
    /// Accept and archive mail but do not deliver it (maintenance, benchmarks):
    /// it waits in the queue until a run without this flag.
    #[arg(long)]
    no_delivery: bool,
    #[command(flatten)]
    demo_args: DemoArgs,
}

#[derive(Args, Clone)]
struct DemoArgs {
    /// The demo domain's primary server (host:port). Leave it unreachable to see mail held.
    #[arg(long, default_value = "127.0.0.1:2526")]
    demo_primary: String,
}

#[derive(Subcommand)]
enum DomainCmd {
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

#[derive(Subcommand)]
enum AdminCmd {
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
    /// Tokens of the JSON admin API (/api/admin).
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Subcommand)]
enum TokenCmd {
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
enum ServiceCmd {
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

#[derive(Subcommand)]
enum UserCmd {
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
}

fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    Config::load(path.map(|p| p.as_path()), std::env::vars()).context("invalid configuration")
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CONTINUITY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config { example } => {
            if example {
                print!("{}", config::EXAMPLE);
            } else {
                let c = load_config(cli.config.as_ref())?;
                println!("configuration is valid: {c:#?}");
            }
            Ok(())
        }
        Command::Serve(args) => {
            init_logging();
            let mut cfg = load_config(cli.config.as_ref())?;
            if args.demo {
                cfg.smtp.self_signed = true;
            }
            serve(cfg, args.demo.then_some(args.demo_args), args.no_delivery).await
        }
        Command::Demo(args) => {
            init_logging();
            let mut cfg = load_config(cli.config.as_ref())?;
            cfg.smtp.self_signed = true;
            serve(cfg, Some(args), false).await
        }
        Command::Domain(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::open(&cfg.database_path()).await?;
            domain_cmd(&store, &cfg.hostname, cmd).await
        }
        Command::Service(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::open(&cfg.database_path()).await?;
            service_cmd(&store, cmd).await
        }
        Command::Admin(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::open(&cfg.database_path()).await?;
            admin_cmd(&store, cmd).await
        }
        Command::User(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::open(&cfg.database_path()).await?;
            let r = user_cmd(&cfg, &store, cmd).await;
            store.flush().await?;
            r
        }
    }
}

async fn serve(cfg: Config, demo: Option<DemoArgs>, no_delivery: bool) -> Result<()> {
    if demo.is_some() {
        let store = Store::open(&cfg.database_path()).await?;
        let d = demo.clone().unwrap_or(DemoArgs {
            demo_primary: "127.0.0.1:2526".into(),
        });
        let (host, port) = config::parse_host_port("--demo-primary", &d.demo_primary)?;
        server::demo::ensure(&store, &host, port).await?;
        store.flush().await?;
    }
    let opts = StartOptions {
        no_queue: no_delivery,
        ..StartOptions::default()
    };
    let running = service::start(&cfg, opts)
        .await
        .context("cannot start the service")?;
    println!();
    println!("Continuity is running.");
    println!("  web:       http://{}/", running.web_addr);
    for a in &running.smtp_addrs {
        println!(
            "  SMTP:      {a}{}",
            if running.tls { " (STARTTLS)" } else { "" }
        );
    }
    println!("  data:      {}", cfg.data_dir.display());
    if no_delivery {
        println!("  delivery:  paused (--no-delivery): mail is archived and waits in the queue");
    }
    if demo.is_some() {
        let smtp = running
            .smtp_addrs
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (host, port) = smtp.rsplit_once(':').unwrap_or(("127.0.0.1", "2525"));
        println!("  demo domain {} with users:", server::demo::DEMO_DOMAIN);
        for (u, name, alias) in server::demo::DEMO_USERS {
            println!(
                "    {u}@{d} ({name}; alias {alias}@{d})",
                d = server::demo::DEMO_DOMAIN
            );
        }
        println!("  send a test message:");
        println!(
            "    swaks --server {host} --port {port} --from you@remote.test --to alice@example.test"
        );
        println!(
            "  webmail:   http://{}/  log in as alice@{} with password {}",
            running.web_addr,
            server::demo::DEMO_DOMAIN,
            server::demo::DEMO_PASSWORD
        );
        println!(
            "  Control Panel: http://{}/login as admin@example.test (the domain's admin) or ops@continuity.test (operator), same password",
            running.web_addr
        );
    }
    println!("  stop:      Ctrl-C (or SIGTERM)");
    println!();
    wait_for_signal().await;
    tracing::info!("shutting down: finishing sessions in DATA and attempts under way");
    running.stop().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn find_domain(store: &Store, name: &str) -> Result<server::store::Domain> {
    match store.domain_by_name(name).await? {
        Some(d) => Ok(d),
        None => bail!("no such domain: {name}"),
    }
}

async fn domain_cmd(store: &Store, hostname: &str, cmd: DomainCmd) -> Result<()> {
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

async fn service_cmd(store: &Store, cmd: ServiceCmd) -> Result<()> {
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

async fn admin_cmd(store: &Store, cmd: AdminCmd) -> Result<()> {
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

/// Read a password from standard input; on a terminal, without echo.
fn read_password(prompt: &str) -> Result<String> {
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

async fn user_cmd(cfg: &Config, store: &Store, cmd: UserCmd) -> Result<()> {
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
