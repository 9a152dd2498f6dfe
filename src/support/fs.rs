//! Files and folders paperboy creates: private by default (they hold readers' addresses).

/// Creates `dir` (and its parents) if missing; a folder created here is 0700.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The user this process runs as (the owner of `/proc/self`), with its name when `/etc/passwd`
/// has one.
pub fn current_user() -> Option<(u32, String)> {
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    Some((uid, user_name(uid)))
}

/// `uid` as `name (uid N)`, or `uid N` when `/etc/passwd` does not know it.
pub fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id: u32 = f.nth(1)?.parse().ok()?;
            (id == uid).then(|| format!("{name} (uid {uid})"))
        })
        .next()
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// When `path` (or the folder it is in, or SQLite's `-wal`/`-shm` beside it) belongs to another
/// user than this process, a sentence saying whose it is and what to run; `None` otherwise.
pub fn ownership_problem(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let (me, my_name) = current_user()?;
    if me == 0 {
        return None;
    }
    let mut candidates = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        candidates.push(p.into());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        candidates.push(dir.to_path_buf());
    }
    candidates.into_iter().find_map(|p| {
        let owner = std::fs::metadata(&p).ok()?.uid();
        (owner != me).then(|| {
            let top = path.parent().unwrap_or(path);
            format!(
                "{} belongs to {}, but paperboy runs as {my_name}: give it back with `chown -R {} {}` (a command run as root created it)",
                p.display(),
                user_name(owner),
                my_name.split(' ').next().unwrap_or("USER"),
                top.display()
            )
        })
    })
}

/// Files that belong to someone else than the user paperboy runs as: the admin's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OwnerError(pub String);

/// Run as root on a store folder that belongs to another user (the daemon's): the sentence that
/// says to run as that user, since files root makes there would lock the daemon out.
pub fn root_in_foreign_folder(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let (me, _) = current_user()?;
    if me != 0 {
        return None;
    }
    // The nearest folder that exists: `data/` may not yet, the state directory above it does.
    let dir = path
        .ancestors()
        .skip(1)
        .find(|d| !d.as_os_str().is_empty() && d.is_dir())?;
    let owner = std::fs::metadata(dir).ok()?.uid();
    (owner != 0).then(|| {
        let who = user_name(owner);
        let name = who.split(' ').next().unwrap_or("paperboy").to_string();
        format!(
            "{} belongs to {who}, and this is root: files root made there would lock the daemon out. Run the command as that user: sudo -u {name} paperboy …",
            dir.display()
        )
    })
}

/// `e`, with the owner named when the file or folder at `path` (or SQLite's files beside it)
/// belongs to someone else.
pub fn explain<E>(e: E, path: &std::path::Path) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    match ownership_problem(path) {
        Some(why) => anyhow::Error::new(e).context(why),
        None => e.into(),
    }
}
