//! What a key may do: `run` workloads, `read` its tenant's history, `admin` everything else
//! (policy, experiments, calibration, keys, tenants, every tenant's history).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Submit workloads and preview routes.
    Run,
    /// Read the tenant's history and usage.
    Read,
    /// The routing policy, experiments, calibration, keys, tenants' quotas, every tenant's
    /// history and `/metrics`; implies `run` and `read`.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Run, Scope::Read, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Run => "run",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn all() -> Scopes {
        Scopes::from_iter(Scope::ALL)
    }

    /// Whether a key with these scopes may do what `scope` allows (`admin` allows all).
    pub fn allow(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }

    /// Parses `run,read`: a comma-separated list of at least one known scope.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut scopes = Scopes::default();
        for name in text.split(',').map(str::trim) {
            let scope = Scope::parse(name)
                .ok_or_else(|| format!("unknown scope {name:?}: expected run, read or admin"))?;
            scopes.0 |= scope.bit();
        }
        match scopes.is_empty() {
            true => Err("at least one scope is needed".into()),
            false => Ok(scopes),
        }
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Scopes {
        Scopes(scopes.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_every_scope_and_others_only_their_own() {
        let admin = Scopes::parse("admin").unwrap();
        assert!(Scope::ALL.into_iter().all(|scope| admin.allow(scope)));
        let run = Scopes::parse("run").unwrap();
        assert!(run.allow(Scope::Run));
        assert!(!run.allow(Scope::Read));
        assert!(!run.allow(Scope::Admin));
    }

    #[test]
    fn scopes_parse_and_print_back() {
        let scopes = Scopes::parse("read, run").unwrap();
        assert_eq!(scopes.to_string(), "run,read");
        assert!(Scopes::parse("run,write").is_err());
        assert!(Scopes::parse("").is_err());
    }
}
