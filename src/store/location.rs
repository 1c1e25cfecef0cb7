//! Where the history lives: `sqlite:PATH` (the embedded default) or a PostgreSQL URL.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq)]
pub enum StoreLocation {
    /// A SQLite database file, created with its directory when missing.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` connection URL.
    Postgres(String),
}

impl FromStr for StoreLocation {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if let Some(path) = value.strip_prefix("sqlite:") {
            return match path.is_empty() {
                true => Err("sqlite: needs a file path, e.g. sqlite:data/vulcan.db".into()),
                false => Ok(StoreLocation::Sqlite(PathBuf::from(path))),
            };
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(value.to_owned()));
        }
        Err(format!(
            "unknown store {value:?}: give sqlite:PATH or a postgres:// URL"
        ))
    }
}

impl fmt::Display for StoreLocation {
    /// Without the URL's password, so it can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:…@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_and_postgres_urls_parse_and_anything_else_is_refused() {
        assert_eq!(
            "sqlite:data/vulcan.db".parse(),
            Ok(StoreLocation::Sqlite("data/vulcan.db".into()))
        );
        let url = "postgresql://vulcan@127.0.0.1:5432/vulcan";
        assert_eq!(url.parse(), Ok(StoreLocation::Postgres(url.into())));
        assert!("sqlite:".parse::<StoreLocation>().is_err());
        assert!("mysql://x".parse::<StoreLocation>().is_err());
        assert!("data/vulcan.db".parse::<StoreLocation>().is_err());
    }

    #[test]
    fn a_password_is_not_shown() {
        let location: StoreLocation = "postgres://vulcan:s3cret@db:5432/vulcan".parse().unwrap();
        assert_eq!(location.to_string(), "postgres://vulcan:…@db:5432/vulcan");
        let location: StoreLocation = "postgres://vulcan@db/vulcan".parse().unwrap();
        assert_eq!(location.to_string(), "postgres://vulcan@db/vulcan");
    }
}
