//! The store's events from every agent: one connection of its own that `LISTEN`s to the
//! channels agents `NOTIFY` (`vulcan_queued`, `vulcan_finished` with the workload's id,
//! `vulcan_webhook`), and reconnects after losing the database. On each (re)connection it
//! reports `Queued` and `Webhook`, since notifications sent while it was away are lost.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use crate::store::Event;

pub(super) const QUEUED: &str = "vulcan_queued";
pub(super) const FINISHED: &str = "vulcan_finished";
pub(super) const WEBHOOK: &str = "vulcan_webhook";
/// Between attempts to reconnect.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Listens until aborted, sending what it hears to `events`.
pub(super) async fn listen(config: Config, events: broadcast::Sender<Event>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
                let statement = format!("LISTEN {QUEUED}; LISTEN {FINISHED}; LISTEN {WEBHOOK}");
                let listening = client.batch_execute(&statement);
                // The connection must be driven for the LISTEN to complete.
                let mut listening = std::pin::pin!(listening);
                let ready = loop {
                    tokio::select! {
                        done = &mut listening => break done.is_ok(),
                        message = messages.next() => if message.is_none_or(|m| m.is_err()) {
                            break false;
                        },
                    }
                };
                if ready {
                    let _ = events.send(Event::Queued);
                    let _ = events.send(Event::Webhook);
                    while let Some(Ok(message)) = messages.next().await {
                        if let AsyncMessage::Notification(note) = message {
                            let _ = events.send(match note.channel() {
                                FINISHED => Event::Finished(note.payload().to_owned()),
                                WEBHOOK => Event::Webhook,
                                _ => Event::Queued,
                            });
                        }
                    }
                }
                tracing::warn!("lost the PostgreSQL connection that listens for the queue");
            }
            Err(err) => tracing::warn!(error = %err, "cannot listen for the queue on PostgreSQL"),
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}
