//! Capabilities can be withdrawn (issue 21): the archive key moves with `rotate-token`, dies
//! with `subscribers remove`; the archive is 0711/0644 on disk; an archive that cannot be
//! written degrades the run and tells the admin, leaving no temporary file.

use std::os::unix::fs::PermissionsExt as _;

use crate::helpers::*;
use crate::operations::next_day_feed;

const ADA: &str = "ada@lab.example.org";
const GRACE: &str = "grace@lab.example.org";
const ARCHIVE: &str = "[archive]\ndir = \"archive\"\nbase_url = \"https://lab.example.org/papers\"\n[admin]\nemail = \"admin@lab.example.org\"\n";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_archive_key_moves_with_rotate_token_and_goes_with_remove() {
    let app = TestApp::spawn(Options {
        extra_config: ARCHIVE.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let archive = app.dir.path().join("archive");
    let old = app.archive_dir(ADA);
    let day = "2025-03/2025-03-28.html";
    assert!(old.join(day).is_file());
    // Traversable, not listable, by other local users; pages readable by the web server.
    for folder in [archive.clone(), old.clone(), old.join("2025-03")] {
        assert_eq!(mode(&folder), 0o711, "{}", folder.display());
    }
    assert_eq!(mode(&old.join(day)), 0o644);
    assert_eq!(mode(&old.join("feed.xml")), 0o644);

    let rotated = app.run(&["subscribers", "rotate-token", ADA]).await;
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    let new = app.archive_dir(ADA);
    assert_ne!(new, old);
    assert!(!old.exists(), "the old address no longer works");
    assert!(new.join(day).is_file(), "the pages moved");
    let key = new.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        rotated.stdout.contains(&format!(
            "the web archive moved to https://lab.example.org/papers/{key}/"
        )),
        "{}",
        rotated.stdout
    );
    // The next digest links the new folder.
    let monday = next_day_feed(&app);
    assert_eq!(
        app.run(&["digest", "--feed", monday.to_str().unwrap()])
            .await
            .code,
        0
    );
    let latest = app.received_by(ADA).pop().unwrap();
    assert!(latest
        .html
        .contains(&format!("/papers/{key}/2025-03/2025-03-31.html")));

    let grace = app.archive_dir(GRACE);
    let kept = app
        .run(&["subscribers", "remove", GRACE, "--keep-archive"])
        .await;
    assert_eq!(kept.code, 0, "{}", kept.stderr);
    assert!(grace.join(day).is_file(), "kept when asked");
    assert!(kept.stdout.contains("stays published"), "{}", kept.stdout);
    let removed = app.run(&["subscribers", "remove", ADA]).await;
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(!new.exists(), "the folder is gone with the reader");
    assert!(
        removed
            .stdout
            .contains("removed their web archive (4 pages)"),
        "{}",
        removed.stdout
    );
    assert_eq!(app.count("SELECT count(*) FROM archive_keys"), 0);
}

#[tokio::test]
async fn an_archive_that_cannot_be_written_degrades_the_run_and_tells_the_admin() {
    let app = TestApp::spawn(Options {
        extra_config: ARCHIVE.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    // Monday's page cannot be written: a folder stands where it goes (as a full disk or a
    // broken mount would refuse it; root is not stopped by modes).
    let root = app.archive_dir(ADA);
    let blocked = root.join("2025-03/2025-03-31.html");
    std::fs::create_dir_all(blocked.join("occupied")).unwrap();
    let monday = next_day_feed(&app);
    let run = app
        .run(&["digest", "--feed", monday.to_str().unwrap()])
        .await;
    assert_eq!(
        run.code, 1,
        "a one-shot run says something failed: {}",
        run.stderr
    );
    assert_eq!(app.received_by(ADA).len(), 2, "the digest was still sent");
    let (status, error): (String, String) = app
        .db()
        .query_row(
            "SELECT status, error FROM runs WHERE kind = 'digest' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "degraded");
    assert!(
        error.contains("the web archive could not be written for 1 reader"),
        "{error}"
    );
    let alert = app
        .received_by("admin@lab.example.org")
        .into_iter()
        .find(|m| m.text.contains("web archive could not be written"));
    assert!(alert.is_some(), "the admin is told");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("2025-03"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );
}
