//! The process's open-file limit: raised to its ceiling when the daemon starts (a daemon serving
//! scrapes and mail needs more than a login shell's 1,024), and named when it is what failed.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// The open-file limit as `(soft, hard)`; `None` is unlimited.
pub fn open_files() -> (Option<u64>, Option<u64>) {
    let l = getrlimit(Resource::Nofile);
    (l.current, l.maximum)
}

/// Raises the soft open-file limit to the hard one (at most 1,048,576). Returns the limits
/// before and after when it changed anything.
pub fn raise_open_files() -> Option<(u64, u64)> {
    const CEILING: u64 = 1 << 20;
    let (soft, hard) = open_files();
    let soft = soft?;
    let target = hard.unwrap_or(CEILING).min(CEILING);
    if target <= soft {
        return None;
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: hard,
        },
    )
    .ok()?;
    Some((soft, target))
}

/// When `e` says the process (or the system) has no file descriptors left: the limit, in
/// words ("1024").
pub fn out_of_descriptors(e: &std::io::Error) -> Option<String> {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    match e.raw_os_error() {
        Some(EMFILE) | Some(ENFILE) => Some(match open_files().0 {
            Some(n) => n.to_string(),
            None => "unlimited".into(),
        }),
        _ => None,
    }
}

/// An I/O error reading `what` in words an admin can act on: running out of descriptors is the
/// process's problem, not the file's.
pub fn io_problem(e: &std::io::Error) -> String {
    match out_of_descriptors(e) {
        Some(limit) => format!("the process has no file descriptors left ({e}; its open-file limit is {limit}): not a problem of the file; raise LimitNOFILE in the unit, or ulimit -n"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_named_as_such() {
        let e = std::io::Error::from_raw_os_error(24);
        assert!(io_problem(&e).contains("no file descriptors left"));
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(out_of_descriptors(&e).is_none());
        assert_eq!(io_problem(&e), e.to_string());
    }
}
