//! The outbox: one send loop for every outgoing mail — digests, the admin's alerts and answers to
//! replies. Each message is a row with its exact bytes, written before the send (by whoever
//! composed it); this sends it through the one transport with one retry policy (temporary refusals
//! retried with doubling waits, permanent ones not) and marks the row after every attempt.

use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::Address;
use tokio_util::sync::CancellationToken;

use crate::mail::{SendError, Transport};
use crate::store::outbox::Queued;
use crate::store::Store;

/// How hard to try before a message waits for the next run.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per message and run (at least 1).
    pub attempts: u32,
    /// The first wait; each further wait doubles it.
    pub base: Duration,
}

/// Sends through `transport` from `from`.
#[derive(Clone)]
pub struct Outbox {
    transport: Arc<dyn Transport>,
    from: Address,
    policy: RetryPolicy,
    cancel: CancellationToken,
    /// One drain at a time in this process: a run's alerts and the inbox's answers are drained
    /// from different tasks, and both must not send the same pending row.
    draining: Arc<tokio::sync::Mutex<()>>,
    /// And across processes (the daemon, `paperboy inbox poll`, a one-shot `digest`): a lock
    /// file beside the store, held while a drain reads and sends.
    drain_lock: Option<std::path::PathBuf>,
}

/// What was drained from the queues.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub alerts_sent: usize,
    pub answers_sent: usize,
    pub answers_failed: usize,
    pub alerts_failed: usize,
}

impl Outbox {
    /// No retry starts once `cancel` is cancelled (shutdown): the row stays pending.
    pub fn new(
        transport: Arc<dyn Transport>,
        from: Address,
        policy: RetryPolicy,
        cancel: CancellationToken,
    ) -> Outbox {
        Outbox {
            transport,
            from,
            policy,
            cancel,
            draining: Arc::new(tokio::sync::Mutex::new(())),
            drain_lock: None,
        }
    }

    /// Drains hold the lock file at `path` too, so two processes on one store never send the
    /// same pending alert or answer.
    pub fn with_drain_lock(self, path: std::path::PathBuf) -> Outbox {
        Outbox {
            drain_lock: Some(path),
            ..self
        }
    }

    /// The same outbox through another transport (dry runs write to the outbox folder).
    pub fn through(&self, transport: Arc<dyn Transport>) -> Outbox {
        Outbox {
            transport,
            ..self.clone()
        }
    }

    pub fn transport(&self) -> &dyn Transport {
        self.transport.as_ref()
    }

    /// Sends `message` once, recording nothing (dry runs, previews, test copies).
    pub async fn send_once(&self, to: &Address, message: &[u8]) -> Result<String, SendError> {
        let envelope = self.envelope(to)?;
        self.transport.send_raw(&envelope, message).await
    }

    /// The send loop: sends the recorded message `item` to `to`, retrying temporary refusals with
    /// backoff, and marks its row after every attempt. `Ok(Err(_))` is a send that failed (the
    /// row says whether for good); `Err(_)` is the store failing.
    #[tracing::instrument(skip_all, fields(to = %to, item = %item))]
    pub async fn send(
        &self,
        store: &Store,
        item: &Queued,
        to: &Address,
        message: &[u8],
    ) -> anyhow::Result<Result<String, SendError>> {
        let envelope = match self.envelope(to) {
            Ok(e) => e,
            Err(e) => {
                store.mark_failed(item, &e.message, true).await?;
                return Ok(Err(e));
            }
        };
        let attempts = self.policy.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self.transport.send_raw(&envelope, message).await;
            // How the transport is doing, for `status` and the metrics: a refusal for good is
            // the address's, not the server's.
            let health = match &sent {
                Ok(_) => Some(Ok(())),
                Err(e) if e.transient => Some(Err(e.message.clone())),
                Err(_) => None,
            };
            if let Some(h) = health {
                store
                    .record_health(crate::store::health::Service::Mail, h)
                    .await?;
            }
            match sent {
                Ok(where_) => {
                    store.mark_sent(item).await?;
                    return Ok(Ok(where_));
                }
                Err(err) => {
                    let retry = err.transient && attempt < attempts && !self.cancel.is_cancelled();
                    store
                        .mark_failed(item, &err.message, !err.transient)
                        .await?;
                    if !retry {
                        tracing::error!(error = %err, transient = err.transient, "could not send");
                        return Ok(Err(err));
                    }
                    let wait = crate::support::clock::backoff(self.policy.base, attempt);
                    tracing::warn!(error = %err, attempt, wait_ms = wait.as_millis() as u64, "sending failed for now; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Sends every alert and answer still pending (this run's, and earlier ones the server
    /// refused for now). Digests are resumed by the run, which reports on each reader.
    pub async fn drain(&self, store: &Store) -> anyhow::Result<Drained> {
        let _one_at_a_time = self.draining.lock().await;
        let _one_process = match &self.drain_lock {
            Some(path) => Some(
                crate::support::lock::hold(path, "sending queued mail", Duration::from_secs(300))
                    .await?,
            ),
            None => None,
        };
        // Read once the locks are held: what another drain sent is no longer pending.
        let pending = store.pending_alerts_and_answers().await?;
        let mut drained = Drained::default();
        for p in pending {
            let Ok(to) = p.recipient.parse::<Address>() else {
                tracing::error!(recipient = %p.recipient, "a queued message has an unusable recipient; left as it is");
                continue;
            };
            let sent = self.send(store, &p.item, &to, &p.message).await?.is_ok();
            match (&p.item, sent) {
                (Queued::Alert(_), true) => drained.alerts_sent += 1,
                (Queued::Alert(_), false) => drained.alerts_failed += 1,
                (Queued::Answer(_), true) => drained.answers_sent += 1,
                (Queued::Answer(_), false) => drained.answers_failed += 1,
                (Queued::Digest { .. }, _) => {}
            }
        }
        Ok(drained)
    }

    fn envelope(&self, to: &Address) -> Result<Envelope, SendError> {
        Envelope::new(Some(self.from.clone()), vec![to.clone()]).map_err(|e| SendError {
            message: format!("bad envelope: {e}"),
            transient: false,
            kind: crate::domain::problem::Kind::SmtpRefused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::problem::Kind;
    use crate::mail::transport::MemoryTransport;
    use crate::store::alerts::{self, AlertKey};

    fn outbox(t: Arc<MemoryTransport>, attempts: u32) -> Outbox {
        Outbox::new(
            t,
            "paperboy@lab.org".parse().unwrap(),
            RetryPolicy {
                attempts,
                base: Duration::from_millis(1),
            },
            CancellationToken::new(),
        )
    }

    #[tokio::test]
    async fn a_pending_alert_is_sent_once_and_marked() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                alerts::create_pending(
                    c,
                    AlertKey::Run(7),
                    "admin@lab.org",
                    "<a@lab.org>",
                    "s",
                    b"bytes",
                )
            })
            .unwrap();
        let t = Arc::new(MemoryTransport::new());
        let drained = outbox(t.clone(), 3).drain(&store).await.unwrap();
        assert_eq!(drained.alerts_sent, 1);
        assert_eq!(t.sent().len(), 1);
        assert_eq!(t.sent()[0].1, b"bytes");
        let again = outbox(t.clone(), 3).drain(&store).await.unwrap();
        assert_eq!(again, Drained::default(), "nothing is sent twice");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_draining_one_store_send_each_alert_once() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                for i in 0..20 {
                    alerts::create_pending(
                        c,
                        AlertKey::Run(i),
                        "admin@lab.org",
                        &format!("<{i}@lab.org>"),
                        "s",
                        b"bytes",
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("paperboy.outbox.lock");
        // Two outboxes with a mutex each, as two processes would have.
        let t = Arc::new(MemoryTransport::new());
        let (a, b) = (
            outbox(t.clone(), 1).with_drain_lock(lock.clone()),
            outbox(t.clone(), 1).with_drain_lock(lock),
        );
        let (x, y) = tokio::join!(a.drain(&store), b.drain(&store));
        assert_eq!(x.unwrap().alerts_sent + y.unwrap().alerts_sent, 20);
        assert_eq!(t.sent().len(), 20, "none sent twice");
    }

    #[tokio::test]
    async fn a_temporary_refusal_is_retried_up_to_the_policy_and_stays_pending() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                alerts::create_pending(
                    c,
                    AlertKey::InboxMessage(3),
                    "admin@lab.org",
                    "<b@lab.org>",
                    "s",
                    b"x",
                )
            })
            .unwrap();
        let t = Arc::new(MemoryTransport::new());
        t.refuse(Some(SendError {
            message: "451 try later".into(),
            transient: true,
            kind: Kind::SmtpTemporary,
        }));
        let drained = outbox(t.clone(), 3).drain(&store).await.unwrap();
        assert_eq!(drained.alerts_failed, 1);
        let (status, attempts): (String, i64) = store
            .with(|c| {
                c.query_row(
                    "SELECT status, attempts FROM alerts WHERE inbox_entry = 3",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert_eq!((status.as_str(), attempts), ("pending", 3));
        t.refuse(None);
        assert_eq!(
            outbox(t.clone(), 3)
                .drain(&store)
                .await
                .unwrap()
                .alerts_sent,
            1
        );
    }
}
