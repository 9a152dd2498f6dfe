//! One writer at a time (issue 21): runs share a lock, the database migrates once however many
//! processes open it, and files reached through symlinks are written where they really are.

use std::sync::atomic::Ordering;

use crate::helpers::*;

const ADA: &str = "ada@lab.example.org";
const GRACE: &str = "grace@lab.example.org";

#[tokio::test]
async fn three_digests_at_once_on_a_fresh_database_make_one_runs_worth_of_calls() {
    // What one digest asks the model, on an app of its own.
    let alone = TestApp::spawn(Options::default()).await;
    assert_eq!(alone.run(&["digest"]).await.code, 0);
    let one_run = alone.llm.state.requests.load(Ordering::SeqCst);
    assert!(one_run > 0);

    let app = TestApp::spawn(Options::default()).await;
    assert!(!app.dir.path().join("data/paperboy.db").exists(), "fresh");
    let (a, b, c) = tokio::join!(
        app.run(&["digest"]),
        app.run(&["digest"]),
        app.run(&["digest"])
    );
    for run in [&a, &b, &c] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("already exists"), "{}", run.stderr);
    }
    assert_eq!(
        app.llm.state.requests.load(Ordering::SeqCst),
        one_run,
        "the second and third wait for the first, then find the day scored and sent"
    );
    assert_eq!(app.received_by(ADA).len(), 1);
    assert_eq!(app.received_by(GRACE).len(), 1);
}

#[tokio::test]
async fn a_second_run_says_who_holds_the_lock_while_it_waits() {
    let app = TestApp::spawn(Options::default()).await;
    assert_eq!(app.run(&["check"]).await.code, 0);
    // Hold the runs lock as a digest would, from outside: the kernel lock and the holder line.
    let path = app.dir.path().join("data/paperboy.runs.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    file.try_lock().unwrap();
    std::fs::write(&path, "pid 4242: paperboy digest").unwrap();
    let mut child = app
        .command(&["digest"], &[])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let waiting = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("waiting for the lock") {
                return line;
            }
        }
        panic!("the digest ended without waiting");
    })
    .await
    .expect("it says it waits");
    assert!(waiting.contains("pid 4242: paperboy digest"), "{waiting}");
    assert!(app.received().is_empty(), "nothing sent while it waits");
    drop(file);
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while lines.next_line().await.unwrap().is_some() {}
        child.wait().await.unwrap()
    })
    .await
    .expect("it runs once the lock is free");
    assert!(status.success());
    assert_eq!(app.received_by(ADA).len(), 1);
}

#[tokio::test]
async fn symlinked_files_are_written_through_and_read_from_where_they_are() {
    let app = TestApp::spawn(Options::default()).await;
    // The subscribers file lives elsewhere and is linked in, as in /etc/paperboy setups.
    let real = app.dir.path().join("shared/subscribers.toml");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    let link = app.dir.path().join("subscribers.toml");
    std::fs::rename(&link, &real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let paused = app.run(&["subscribers", "pause", ADA]).await;
    assert_eq!(paused.code, 0, "{}", paused.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("paused = true"));

    // A symlinked config reads its relative paths from the real file's folder.
    let etc = app.dir.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let config_link = etc.join("paperboy.toml");
    std::os::unix::fs::symlink(&app.config, &config_link).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .arg("--config")
        .arg(&config_link)
        .args(["subscribers", "list", "--json"])
        .current_dir(&etc)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(ADA) && stdout.contains(GRACE), "{stdout}");
}
