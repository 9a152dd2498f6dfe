//! Work on a stranger's input (a mailed attachment) off the async runtime, within a time
//! limit: the daemon's timers, its inbox and SIGTERM never wait on it.

use std::time::Duration;

/// Runs `work` on a thread of its own and waits for it at most `limit`. A thread cannot be
/// stopped from outside, so past the limit it is left to finish on its own (and dies with the
/// process); the limits checked before parsing are what keep such work short — this is the
/// backstop that keeps the caller going whatever happens.
pub async fn off_runtime<T: Send + 'static>(
    what: &str,
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("untrusted: {what}"))
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| format!("could not start reading {what}: {e}"))?;
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(format!("reading {what} failed (the parser stopped)")),
        Err(_) => Err(format!(
            "reading {what} took longer than {} s; paperboy stopped waiting",
            limit.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_work_is_given_up_on_and_a_panic_is_an_error() {
        let slow = off_runtime("a slow file", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(3));
            1
        })
        .await;
        assert!(slow.unwrap_err().contains("longer than"));
        let panicked: Result<u8, String> =
            off_runtime("a bad file", Duration::from_secs(5), || panic!("boom")).await;
        assert!(panicked.unwrap_err().contains("failed"));
        assert_eq!(
            off_runtime("a good file", Duration::from_secs(5), || 7).await,
            Ok(7)
        );
    }
}
