//! `[store]`: where everything is kept. The embedded default is a SQLite
//! file under the data directory (one machine); a `postgres://` URL puts
//! the store on a PostgreSQL server, which several nodes can share.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use super::{invalid, ConfigError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite://<path>` (default: `<data_dir>/continuity.db`) or
    /// `postgres://user[:password]@host[:port]/database[?sslmode=…]`.
    pub url: Option<String>,
    /// Connections to PostgreSQL kept by this node (reads and
    /// administrative writes; the hot-path writer has one of its own).
    pub pool_size: Option<u32>,
}

/// Which database, and where.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Without the password (`continuity config` prints the configuration).
impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: StoreUrl,
    pub pool_size: u32,
}

impl StoreUrl {
    /// Read a `sqlite:` or `postgres:` URL; `data_dir` is where a SQLite
    /// store goes by default.
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        let url = url.trim();
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(
                    "a sqlite: URL needs a file path (sqlite:///var/lib/continuity/continuity.db)"
                        .into(),
                );
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
            return Ok(StoreUrl::Postgres(url.to_string()));
        }
        Err("must start with sqlite:// or postgres://".into())
    }

    /// The URL without its password, for logs and errors.
    pub fn redacted(&self) -> String {
        match self {
            StoreUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            StoreUrl::Postgres(u) => match url::Url::parse(u) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                _ => u.clone(),
            },
        }
    }
}

impl RawStore {
    pub fn validate(self, data_dir: &Path) -> Result<StoreConfig, ConfigError> {
        let url = match self.url.as_deref().map(str::trim) {
            None | Some("") => StoreUrl::Sqlite(data_dir.join("continuity.db")),
            Some(u) => StoreUrl::parse(u).map_err(|m| invalid("store.url", m))?,
        };
        let pool_size = self.pool_size.unwrap_or(10);
        if pool_size == 0 || pool_size > 1000 {
            return Err(invalid("store.pool_size", "must be between 1 and 1000"));
        }
        Ok(StoreConfig { url, pool_size })
    }
}

#[cfg(test)]
mod tests {
    use super::StoreUrl;
    use std::path::PathBuf;

    #[test]
    fn urls_name_their_backend_and_bad_ones_say_why() {
        assert_eq!(
            StoreUrl::parse("sqlite:///var/lib/c/continuity.db"),
            Ok(StoreUrl::Sqlite(PathBuf::from("/var/lib/c/continuity.db")))
        );
        assert_eq!(
            StoreUrl::parse("sqlite:data/c.db"),
            Ok(StoreUrl::Sqlite(PathBuf::from("data/c.db")))
        );
        assert!(matches!(
            StoreUrl::parse("postgres://continuity@db.example/continuity"),
            Ok(StoreUrl::Postgres(_))
        ));
        assert!(StoreUrl::parse("mysql://x@y/z")
            .unwrap_err()
            .contains("sqlite://"));
        assert!(StoreUrl::parse("sqlite://").is_err());
        assert!(StoreUrl::parse("postgres://x@y:notaport/z").is_err());
        let u = StoreUrl::parse("postgres://c:secret@db/c").expect("url");
        assert!(!u.redacted().contains("secret"), "{}", u.redacted());
    }
}
