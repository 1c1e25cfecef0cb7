//! Results POSTed to the workloads' `callback_url`s: only to addresses on the agent's allow
//! list (a submitter must not make the agent call arbitrary internal addresses), signed with
//! HMAC-SHA256, from the store's outbox, at least once, with backoff.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::broadcast;

use super::Workloads;
use crate::error::Error;
use crate::store::{Attempt, Event, Webhook};

/// The signature's header: `sha256=` and the hex HMAC-SHA256 of the body under the secret.
pub const SIGNATURE_HEADER: &str = "x-vulcan-signature";
/// Attempts before giving up.
const MAX_ATTEMPTS: u32 = 10;
/// Each attempt's time to be answered.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long an agent holds results it is sending before another may take them.
const LEASE: Duration = Duration::from_secs(30);
/// Results taken at once.
const BATCH: u32 = 8;
/// With nothing heard, an agent still looks at the outbox this often.
const SLOW_POLL: Duration = Duration::from_secs(5);

/// Where results may be sent, and the secret they are signed with.
#[derive(Clone)]
pub struct WebhookSettings {
    /// `host:port` pairs, exactly as allowed.
    allow: Arc<[String]>,
    secret: Arc<[u8]>,
    client: reqwest::Client,
}

impl WebhookSettings {
    /// From `--callback-allow` (`host:port`, comma-separated; empty: no callbacks) and
    /// `--callback-secret`, which callbacks need.
    pub fn new(allow: &[String], secret: Option<&str>) -> Result<Self, String> {
        let allow: Vec<String> = allow
            .iter()
            .map(|entry| entry.trim().to_ascii_lowercase())
            .filter(|entry| !entry.is_empty())
            .collect();
        let secret = match (allow.is_empty(), secret) {
            (_, Some(secret)) if !secret.is_empty() => secret.as_bytes().into(),
            (true, _) => Arc::from(&b""[..]),
            (false, _) => {
                return Err("--callback-allow needs --callback-secret to sign results".into());
            }
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .map_err(|err| format!("webhook client: {err}"))?;
        Ok(WebhookSettings {
            allow: allow.into(),
            secret,
            client,
        })
    }

    /// Refuses a callback URL that is not plain `http://` to an allowed `host:port`.
    pub fn check(&self, url: &str) -> Result<(), Error> {
        let refuse = |why: &str| Err(Error::InvalidRequest(format!("callback_url {why}")));
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return refuse("is not a URL");
        };
        if parsed.scheme() != "http" {
            return refuse("must be an http:// URL");
        }
        let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
            return refuse("has no host");
        };
        let address = format!("{host}:{port}").to_ascii_lowercase();
        match self.allow.contains(&address) {
            true => Ok(()),
            false if self.allow.is_empty() => {
                refuse("is not allowed: this agent sends no callbacks (see --callback-allow)")
            }
            false => refuse(&format!(
                "{address} is not on this agent's --callback-allow list"
            )),
        }
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("sha256={hex}")
    }
}

impl Workloads {
    /// Sends the results due in the outbox until dropped, woken when one is added.
    pub async fn deliver_webhooks(self) {
        let mut events = self.history.events();
        loop {
            let due = match self.history.due_webhooks(BATCH, LEASE).await {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(error = %err, "reading the webhooks' outbox failed");
                    Vec::new()
                }
            };
            if due.is_empty() {
                let _ = tokio::time::timeout(SLOW_POLL, webhook_added(&mut events)).await;
                continue;
            }
            let sends = due.into_iter().map(|webhook| self.deliver(webhook));
            futures_util::future::join_all(sends).await;
        }
    }

    async fn deliver(&self, webhook: Webhook) {
        let settings = &self.webhooks;
        let sent = settings
            .client
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, settings.sign(webhook.body.as_bytes()))
            .header("x-vulcan-workload", &webhook.workload_id)
            .body(webhook.body.clone())
            .send()
            .await;
        let failure = match sent {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("answered {}", response.status())),
            Err(err) => Some(err.without_url().to_string()),
        };
        let attempts = webhook.attempts + 1;
        let (attempt, outcome) = match failure {
            None => (Attempt::Delivered, "delivered"),
            Some(error) => {
                let retry_in_ms =
                    (attempts < MAX_ATTEMPTS).then(|| 1000u64 << (attempts - 1).min(8));
                let outcome = if retry_in_ms.is_some() {
                    "failed"
                } else {
                    "gave_up"
                };
                (Attempt::Failed { error, retry_in_ms }, outcome)
            }
        };
        self.metrics
            .webhook_deliveries
            .with_label_values(&[outcome])
            .inc();
        if let Err(err) = self
            .history
            .webhook_attempted(&webhook.workload_id, attempt)
            .await
        {
            tracing::warn!(error = %err, id = webhook.workload_id, "recording a webhook attempt failed");
        }
    }
}

/// Resolves when a result is put in the outbox (or events were missed).
async fn webhook_added(events: &mut broadcast::Receiver<Event>) {
    loop {
        match events.recv().await {
            Ok(Event::Webhook) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(Event::Queued | Event::Finished(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(allow: &[&str]) -> WebhookSettings {
        let allow: Vec<String> = allow.iter().map(|entry| entry.to_string()).collect();
        WebhookSettings::new(&allow, Some("s3cret")).unwrap()
    }

    #[test]
    fn only_allowed_http_addresses_are_taken() {
        let settings = settings(&["hooks.internal:8080", "127.0.0.1:9000"]);
        assert!(settings.check("http://hooks.internal:8080/done").is_ok());
        assert!(settings.check("http://HOOKS.internal:8080/x?y=1").is_ok());
        assert!(settings.check("http://127.0.0.1:9000/").is_ok());
        for refused in [
            "http://hooks.internal:8081/",
            "http://hooks.internal/",
            "https://hooks.internal:8080/",
            "http://169.254.169.254:8080/",
            "http://127.0.0.1:9000@evil:80/",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(settings.check(refused).is_err(), "{refused} was allowed");
        }
        let none = WebhookSettings::new(&[], None).unwrap();
        assert!(none.check("http://127.0.0.1:9000/").is_err());
    }

    #[test]
    fn an_allow_list_needs_a_secret() {
        assert!(WebhookSettings::new(&["a:1".into()], None).is_err());
        assert!(WebhookSettings::new(&["a:1".into()], Some("")).is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2: key "Jefe".
        let settings = WebhookSettings::new(&["a:1".into()], Some("Jefe")).unwrap();
        assert_eq!(
            settings.sign(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
