//! Build facts `paperboy --version` shows: the commit it was built from and the store schema it
//! writes (the number of migrations), so two builds never look alike.
use std::path::Path;
use std::process::Command;

fn main() {
    let commit = std::env::var("PAPERBOY_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PAPERBOY_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=PAPERBOY_COMMIT");

    let migrations = std::fs::read_dir("src/store/migrations")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
                .count()
        })
        .unwrap_or(0);
    println!("cargo:rustc-env=PAPERBOY_SCHEMA={migrations}");
    println!("cargo:rerun-if-changed=src/store/migrations");

    // A new commit changes the ref HEAD points at; watch the files that exist.
    for path in [".git/HEAD", ".git/packed-refs"] {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(reference) = head.trim().strip_prefix("ref: ") {
            let path = format!(".git/{reference}");
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}

/// `git rev-parse --short=12 HEAD`, with `-dirty` when the work tree has changes to tracked files.
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = Command::new("git")
        .args([
            "diff",
            "--quiet",
            "HEAD",
            "--",
            "src",
            "Cargo.toml",
            "Cargo.lock",
        ])
        .status()
        .map(|s| !s.success())
        .unwrap_or(false);
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
