//! `continuity`: the one binary. Commands parse arguments, load the
//! configuration and call into the `server` library; errors end here as
//! `anyhow` reports. Here: the command table, `serve`/`demo`; the other
//! commands in [`domains`], [`admins`] (and `service`), [`users`].

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use server::config::{self, Config};
use server::service::{self, StartOptions};
use server::store::Store;

mod admins;
mod archive;
mod backup;
mod check;
mod directory;
mod domains;
mod nodes;
mod relay;
mod store_cmd;
mod users;

use admins::{admin_cmd, service_cmd, AdminCmd, ServiceCmd};
use archive::{archive_cmd, ArchiveCmd};
use directory::{directory_cmd, DirectoryCmd};
use domains::{domain_cmd, DomainCmd};
use nodes::{node_cmd, NodeCmd};
use store_cmd::{store_cmd, StoreCmd};
use users::{user_cmd, UserCmd};

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
        /// Print the settings every node sharing one database must agree
        /// on, and their fingerprint (`node list` shows each node's).
        #[arg(long, conflicts_with = "example")]
        shared: bool,
    },
    /// Check what a (re)start would meet: the configuration, the files it
    /// names, the data directory, the database's migrations (read only).
    CheckConfig,
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
    /// The archive: retention purge, import and export.
    #[command(subcommand)]
    Archive(ArchiveCmd),
    /// A domain's users from LDAP / Active Directory, or a CSV file.
    #[command(subcommand)]
    Directory(DirectoryCmd),
    /// The nodes sharing this database (several nodes on PostgreSQL).
    #[command(subcommand)]
    Node(NodeCmd),
    /// The store itself: copy a SQLite installation into PostgreSQL.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Back up the database (and the generated certificate) into one
    /// compressed file, while the service runs: a consistent copy as of
    /// one moment, with a manifest (version, row counts, SHA-256).
    Backup {
        /// The backup file to write, e.g. continuity-2026-12-06.tar.zst
        /// (replaced only once complete).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the man pages (continuity.1 and one per command) or the shell
    /// completions (bash, zsh, fish) into a directory: for packaging.
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: Generated,
        /// The directory to write into (created if missing).
        dir: PathBuf,
    },
    /// Restore a backup into an empty data directory (the configured one):
    /// refused if a newer version made it; every file's SHA-256, the
    /// database's integrity and its row counts are checked first.
    Restore {
        /// The file `continuity backup` wrote.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Generated {
    Man,
    Completions,
}

/// The man pages or completions of the command table, into `dir`.
fn generate(what: Generated, dir: &std::path::Path) -> Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = Cli::command();
    match what {
        Generated::Man => clap_mangen::generate_to(cmd, dir)?,
        Generated::Completions => {
            use clap_complete::Shell;
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                clap_complete::generate_to(shell, &mut Cli::command(), "continuity", dir)?;
            }
        }
    }
    Ok(())
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

fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    Config::load(path.map(|p| p.as_path()), std::env::vars()).context("invalid configuration")
}

/// The log on standard error: the events `CONTINUITY_LOG` selects (`info`
/// by default), as text or as one JSON object per line (`[log] format`).
fn init_logging(format: config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CONTINUITY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        config::LogFormat::Text => fmt.try_init(),
        config::LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

#[tokio::main]
async fn main() -> Result<()> {
    server::service::return_large_allocations();
    let cli = Cli::parse();
    match cli.command {
        Command::Config { example, shared } => {
            if example {
                print!("{}", config::EXAMPLE);
            } else if shared {
                let c = load_config(cli.config.as_ref())?;
                print!("{}", c.shared_settings());
                println!("fingerprint: {}", c.shared_fingerprint());
            } else {
                let c = load_config(cli.config.as_ref())?;
                println!("configuration is valid: {c:#?}");
            }
            Ok(())
        }
        Command::Serve(args) => {
            let mut cfg = load_config(cli.config.as_ref())?;
            init_logging(cfg.log.format);
            if args.demo {
                cfg.smtp.self_signed = true;
            }
            serve(cfg, args.demo.then_some(args.demo_args), args.no_delivery).await
        }
        Command::Demo(args) => {
            let mut cfg = load_config(cli.config.as_ref())?;
            init_logging(cfg.log.format);
            cfg.smtp.self_signed = true;
            // mail apps can try it too, unless configured otherwise
            if !cfg.imap.enabled() {
                cfg.imap.listen = vec![std::net::SocketAddr::from(([127, 0, 0, 1], 2143))];
            }
            if !cfg.submission.enabled() {
                cfg.submission.listen = vec![std::net::SocketAddr::from(([127, 0, 0, 1], 2588))];
            }
            serve(cfg, Some(args), false).await
        }
        Command::CheckConfig => {
            let cfg = load_config(cli.config.as_ref())?;
            let origin = cli
                .config
                .as_ref()
                .map_or("defaults and environment".to_string(), |p| {
                    p.display().to_string()
                });
            check::check_config(&cfg, &origin).await
        }
        Command::Domain(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            domain_cmd(&store, &cfg.hostname, cmd).await
        }
        Command::Service(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            service_cmd(&store, cmd).await
        }
        Command::Directory(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            directory_cmd(&store, cmd).await
        }
        Command::Generate { what, dir } => generate(what, &dir),
        Command::Backup { out } => {
            let cfg = load_config(cli.config.as_ref())?;
            backup::backup_cmd(&cfg, &out).await
        }
        Command::Restore { file } => {
            let cfg = load_config(cli.config.as_ref())?;
            backup::restore_cmd(&cfg, &file).await
        }
        Command::Store(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            store_cmd(&cfg.store.url, cmd).await
        }
        Command::Node(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            node_cmd(&store, cmd).await
        }
        Command::Archive(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            archive_cmd(&store, cmd).await
        }
        Command::Admin(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            admin_cmd(&store, cmd).await
        }
        Command::User(cmd) => {
            let cfg = load_config(cli.config.as_ref())?;
            let store = Store::connect(&cfg.store).await?;
            let r = user_cmd(&cfg, &store, cmd).await;
            store.flush().await?;
            r
        }
    }
}

async fn serve(cfg: Config, demo: Option<DemoArgs>, no_delivery: bool) -> Result<()> {
    // before anything starts: a SIGHUP during the start does not kill it
    let signals = Signals::new();
    if demo.is_some() {
        let store = Store::connect(&cfg.store).await?;
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
    if cfg.log.format == config::LogFormat::Json {
        // for a collector, the one line it parses (the banner is a person's)
        tracing::info!(
            web = %running.web_addr,
            smtp = ?running.smtp_addrs,
            imap = ?running.imap_addrs,
            submission = ?running.submission_addrs,
            metrics = ?running.metrics_addr,
            data = %cfg.data_dir.display(),
            delivery = !no_delivery,
            "Continuity is running"
        );
    } else {
        banner(&cfg, &running, demo.as_ref(), no_delivery);
    }
    wait_and_stop(running, signals).await
}

/// What a person starting the service reads: where it listens, and with
/// the demo how to try it.
fn banner(cfg: &Config, running: &service::Running, demo: Option<&DemoArgs>, no_delivery: bool) {
    println!();
    println!("Continuity is running.");
    println!("  web:       http://{}/", running.web_addr);
    for a in &running.smtp_addrs {
        println!(
            "  SMTP:      {a}{}",
            if running.tls { " (STARTTLS)" } else { "" }
        );
    }
    for a in &running.imap_addrs {
        println!("  IMAP:      {a}");
    }
    for a in &running.submission_addrs {
        println!("  submission: {a} (AUTH after TLS)");
    }
    if let Some(a) = running.metrics_addr {
        println!("  metrics:   http://{a}/metrics");
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
        if let Some(imap) = running.imap_addrs.first() {
            println!(
                "  a mail app: IMAP {imap} with STARTTLS (self-signed certificate), user alice@{}, the same password",
                server::demo::DEMO_DOMAIN
            );
        }
    }
    println!("  stop:      Ctrl-C (or SIGTERM)");
    println!();
}

/// Run until Ctrl-C or SIGTERM, then stop gracefully; on SIGHUP, read the
/// certificate and key again.
async fn wait_and_stop(running: service::Running, mut signals: Signals) -> Result<()> {
    let status = format!(
        "serving: SMTP {:?}, web {}",
        running.smtp_addrs, running.web_addr
    );
    server::systemd::ready(&status);
    loop {
        match signals.next().await {
            Signal::Stop => break,
            Signal::Reload => {
                server::systemd::reloading();
                match running.reload_tls() {
                    Ok(true) => {
                        let path = running
                            .certificate
                            .as_ref()
                            .map(|c| c.path().display().to_string());
                        let expires = running
                            .certificate
                            .as_ref()
                            .and_then(|c| server::tls::expiry(c.path()))
                            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                            .map(|t| t.date().to_string());
                        tracing::info!(
                            path,
                            expires,
                            "TLS certificate reloaded: new sessions present it"
                        );
                    }
                    Ok(false) => tracing::info!("SIGHUP: no TLS certificate to reload"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS certificate not reloaded: the one in use stays")
                    }
                }
                server::systemd::ready(&status);
            }
        }
    }
    server::systemd::stopping();
    tracing::info!("shutting down: finishing sessions in DATA and attempts under way");
    running.stop().await;
    Ok(())
}

enum Signal {
    Stop,
    Reload,
}

/// SIGTERM, SIGINT and SIGHUP, listened to from the start (registered once:
/// a SIGHUP between two waits is not lost, and never kills the process).
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            let term = async {
                match &mut self.term {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let hup = async {
                match &mut self.hup {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Stop,
                _ = term => Signal::Stop,
                _ = hup => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}
