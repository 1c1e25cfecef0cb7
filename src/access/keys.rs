//! API keys as tokens: `vk_<id>_<secret>`, where `id` (12 hex digits) names the key and is
//! its visible prefix, and `secret` is 256 random bits. The store keeps only the SHA-256 of
//! the whole token, compared in constant time; a token is shown once, when it is made.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Scopes;
use crate::error::{Error, Result};
use crate::store::{AccessStore, ApiKey, now_ms};

const PREFIX: &str = "vk_";
const ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// A freshly made key: the token (shown once) and what the store keeps of it.
pub struct NewToken {
    pub token: String,
    pub id: String,
    /// SHA-256 of `token`, hex.
    pub hash: String,
}

/// Makes a key from the operating system's random numbers.
pub fn generate() -> Result<NewToken> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|err| Error::Engine(format!("no random numbers for a key: {err}")))?;
    let id = hex(&id);
    let token = format!("{PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash(&token);
    Ok(NewToken { token, id, hash })
}

/// What a new key is for.
pub struct KeyRequest {
    pub tenant: String,
    pub scopes: Scopes,
    pub expires_in: Option<Duration>,
    pub name: Option<String>,
}

/// Makes a key and stores its hash: the token (to show once) and the stored key.
pub async fn create(store: &dyn AccessStore, request: KeyRequest) -> Result<(String, ApiKey)> {
    check_tenant(&request.tenant).map_err(Error::InvalidRequest)?;
    if let Some(name) = &request.name
        && (name.is_empty()
            || name.chars().count() > 128
            || name.chars().any(|c| c.is_ascii_control()))
    {
        return Err(Error::InvalidRequest(
            "name must be 1 to 128 characters, none of them control characters".into(),
        ));
    }
    let NewToken { token, id, hash } = generate()?;
    let created_at_ms = now_ms();
    let key = ApiKey {
        id,
        tenant: request.tenant,
        scopes: request.scopes,
        hash,
        name: request.name,
        created_at_ms,
        expires_at_ms: request
            .expires_in
            .map(|lifetime| created_at_ms.saturating_add(lifetime.as_millis() as i64)),
        revoked_at_ms: None,
    };
    store.create_key(&key).await?;
    Ok((token, key))
}

/// Tenant names: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&tenant.len())
        && tenant.starts_with(|first: char| first.is_ascii_lowercase() || first.is_ascii_digit())
        && tenant.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte)
        });
    match valid {
        true => Ok(()),
        false => Err(format!(
            "tenant must be 1 to 64 of a-z, 0-9, '.', '_' or '-', starting with a letter or \
             digit; got {tenant:?}"
        )),
    }
}

/// Parses a lifetime: `30d`, `12h`, `90m` or `3600s`.
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let invalid = || format!("a lifetime is a number and d, h, m or s (e.g. 30d), got {text:?}");
    let split = text.len().checked_sub(1).ok_or_else(invalid)?;
    let (number, unit) = text.split_at_checked(split).ok_or_else(invalid)?;
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(invalid()),
    };
    match number.checked_mul(seconds) {
        Some(seconds) if seconds > 0 && seconds <= 100 * 365 * 86_400 => {
            Ok(Duration::from_secs(seconds))
        }
        _ => Err(format!(
            "a lifetime is between 1 s and 100 years, got {text:?}"
        )),
    }
}

/// The id a token names, if it is shaped like one of ours.
pub fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_at_checked(2 * ID_BYTES)?;
    let secret = secret.strip_prefix('_')?;
    let shaped =
        id.bytes().all(|byte| byte.is_ascii_hexdigit()) && !secret.is_empty() && secret.len() <= 64;
    shaped.then_some(id)
}

/// SHA-256 of a token, hex: what is stored of it.
pub fn hash(token: &str) -> String {
    hex(&digest(token))
}

/// Whether `token` is the key whose stored hash is `hash_hex`, in time independent of where
/// they differ (and without allocating: this is on every request's path).
pub fn verify(token: &str, hash_hex: &str) -> bool {
    let Some(stored) = unhex(hash_hex) else {
        return false;
    };
    bool::from(digest(token).ct_eq(&stored))
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_names_its_id_and_matches_only_its_hash() {
        let key = generate().unwrap();
        assert_eq!(id_of(&key.token), Some(key.id.as_str()));
        assert!(verify(&key.token, &key.hash));
        let other = generate().unwrap();
        assert!(!verify(&other.token, &key.hash));
        assert!(!verify(&key.token, "not hex"));
        assert_eq!(
            unhex(&key.hash).map(|bytes| hex(&bytes)),
            Some(key.hash.clone())
        );
        assert_ne!(key.token, other.token);
        // 256 bits of secret, base64url: 43 characters.
        assert_eq!(key.token.len(), PREFIX.len() + 2 * ID_BYTES + 1 + 43);
        assert!(!key.hash.contains(&key.token[PREFIX.len() + 13..]));
    }

    #[test]
    fn lifetimes_and_tenants_parse_or_say_why_not() {
        assert_eq!(parse_lifetime("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_lifetime("90m"), Ok(Duration::from_secs(5_400)));
        for bad in ["", "d", "30", "30w", "0s", "-1d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
        assert!(check_tenant("team-a.prod_1").is_ok());
        for bad in ["", "Team", "-a", "a/b", &"a".repeat(65)] {
            assert!(check_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_of_another_shape_names_no_id() {
        for token in [
            "",
            "vk_",
            "vk_12345678901_x",
            "vk_zzzzzzzzzzzz_abc",
            "xx_123456789012_abc",
        ] {
            assert_eq!(id_of(token), None, "{token}");
        }
        assert_eq!(id_of("vk_0123456789ab_secret"), Some("0123456789ab"));
    }
}
