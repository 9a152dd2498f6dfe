//! Lock files: one process at a time does a kind of work on a data directory. The lock is the
//! kernel's (`flock`), so it is released however the holder ends, even by SIGKILL; the file
//! says who holds it ("pid 4242: paperboy digest"), so the one kept waiting is told.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Held {
    _file: File,
    pub path: PathBuf,
}

/// Who holds the lock at `path`, as its file says ("pid 4242: paperboy digest").
pub fn holder(path: &Path) -> String {
    let mut s = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut s));
    let s = s.trim();
    if s.is_empty() {
        "another paperboy".to_string()
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        format!("pid {s}")
    } else {
        s.to_string()
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}

fn claim(mut file: File, path: &Path, what: &str) -> std::io::Result<Held> {
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "pid {}: {what}", std::process::id())?;
    Ok(Held {
        _file: file,
        path: path.to_path_buf(),
    })
}

/// Takes the lock if it is free now; `Ok(None)` when someone else holds it.
pub fn try_hold(path: &Path, what: &str) -> std::io::Result<Option<Held>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => claim(file, path, what).map(Some),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Why a lock could not be had in time.
#[derive(Debug, thiserror::Error)]
#[error("{holder} holds {path} (waited {waited} s); wait for it to finish, or stop it")]
pub struct Busy {
    pub holder: String,
    pub path: String,
    pub waited: u64,
}

/// Takes the lock, waiting up to `wait` for its holder (and saying once on stderr's log whom it
/// waits for). For short work in synchronous code (a file edit, a migration).
pub fn hold_blocking(path: &Path, what: &str, wait: Duration) -> anyhow::Result<Held> {
    let start = Instant::now();
    let mut told = false;
    loop {
        if let Some(held) = try_hold(path, what)? {
            return Ok(held);
        }
        if start.elapsed() >= wait {
            return Err(busy(path, start).into());
        }
        if !told {
            tracing::info!(lock = %path.display(), holder = %holder(path), "waiting for the lock");
            told = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `hold_blocking` for async code: waits without holding up the runtime.
pub async fn hold(path: &Path, what: &str, wait: Duration) -> anyhow::Result<Held> {
    let start = Instant::now();
    let mut told = false;
    loop {
        if let Some(held) = try_hold(path, what)? {
            return Ok(held);
        }
        if start.elapsed() >= wait {
            return Err(busy(path, start).into());
        }
        if !told {
            tracing::warn!(lock = %path.display(), holder = %holder(path), "waiting for the lock");
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn busy(path: &Path, start: Instant) -> Busy {
    Busy {
        holder: holder(path),
        path: path.display().to_string(),
        waited: start.elapsed().as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_the_next_one_is_told_who() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.lock");
        let first = try_hold(&path, "paperboy digest").unwrap().expect("free");
        assert!(try_hold(&path, "paperboy preview").unwrap().is_none());
        let e = hold_blocking(&path, "paperboy preview", Duration::ZERO).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("pid {}: paperboy digest", std::process::id())),
            "{msg}"
        );
        drop(first);
        let second = try_hold(&path, "paperboy preview").unwrap();
        assert!(second.is_some(), "free again once dropped");
    }
}
