//! The one request every client command makes: POST JSON to the server, read JSON back,
//! with the API key in `VULCAN_KEY` (an environment variable, never a flag, so it stays out
//! of process listings and shell history) when there is one.

use anyhow::Context;
use serde_json::Value;

/// The answer; `None` when the server refused, which is said on stderr as "the server
/// refused `what` (status): message" (the commands then exit with code 2).
pub async fn post(
    server: &str,
    path: &str,
    body: &Value,
    what: &str,
) -> anyhow::Result<Option<Value>> {
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let mut request = reqwest::Client::new().post(&url).json(body);
    if let Ok(key) = std::env::var("VULCAN_KEY") {
        request = request.bearer_auth(key);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("sending the request to {url}"))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .context("reading the server's answer")?;
    if !status.is_success() {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        eprintln!("vulcan: the server refused {what} ({status}): {message}");
        return Ok(None);
    }
    Ok(Some(answer))
}
