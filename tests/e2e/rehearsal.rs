//! An upgrade rehearsal (`scripts/rehearse-upgrade REV`): a day scored, sent and bundled by an
//! older build of paperboy, then this build on the same store. Not in the suite: it needs that
//! build (`PAPERBOY_OLD_BIN`).

use std::collections::BTreeMap;

use crate::helpers::*;
use crate::scoring::FEED_BENCH;

#[tokio::test]
#[ignore = "needs an older build: scripts/rehearse-upgrade REV"]
async fn an_older_builds_day_reads_the_same_after_the_upgrade_and_nothing_is_sent_twice() {
    let old = std::env::var("PAPERBOY_OLD_BIN").expect("PAPERBOY_OLD_BIN: an older paperboy");
    let app = TestApp::spawn(Options {
        subscribers: crate::institute::institute_readers(20, ""),
        feed: Some(FEED_BENCH),
        batch_size: 100,
        concurrency: 4,
        model: "gpt-4o".into(),
        embeddings: true,
        ..Default::default()
    })
    .await;
    let version = app.run_of(&old, &["--version"]).await.stdout;
    println!("REHEARSAL from {}", version.trim());

    // The older build's day: scored, sent, bundled.
    let day = app.run_of(&old, &["digest"]).await;
    assert_eq!(day.code, 0, "{}", day.stderr);
    let sent = app.received();
    assert_eq!(sent.len(), 20);
    let verdicts = app.count("SELECT count(*) FROM verdicts");
    assert!(verdicts > 0);
    // What `why` says of some pairs (kept, left out, sent), asked of the older build.
    let pairs: Vec<(String, String)> = {
        let db = app.db();
        let mut stmt = db
            .prepare(
                "SELECT DISTINCT s.subscriber, p.paper_id FROM sent_papers p
                 JOIN (SELECT DISTINCT subscriber FROM sent_papers LIMIT 3) s USING (subscriber)
                 UNION ALL
                 SELECT * FROM (SELECT sp.subscriber, t.paper_id FROM triage t
                   JOIN (SELECT DISTINCT subscriber, profile_hash FROM spend WHERE profile_hash IS NOT NULL) sp
                   USING (profile_hash) WHERE t.kept = 0 LIMIT 5)",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(pairs.len() > 5, "{pairs:?}");
    let mut why_before = BTreeMap::new();
    for (email, paper) in &pairs {
        let r = app.run_of(&old, &["why", "--for", email, paper]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        why_before.insert((email.clone(), paper.clone()), r.stdout);
    }

    // This build: migrated with a backup, and reads the day as the older build did.
    let migrated = app.run(&["migrate"]).await;
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    assert!(
        migrated.stdout.contains("migrated the store"),
        "{}",
        migrated.stdout
    );
    println!("REHEARSAL {}", migrated.stdout.trim());
    assert_eq!(app.count("SELECT count(*) FROM verdicts"), verdicts);
    for ((email, paper), before) in &why_before {
        let r = app.run(&["why", "--for", email, paper]).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(&r.stdout, before, "why --for {email} {paper}");
    }
    // The older build's bundles give back the exact bytes it sent.
    let reader = &sent[0].to;
    let resend = app
        .run(&[
            "deliveries",
            "resend",
            "--day",
            "2025-03-28",
            "--to",
            reader,
        ])
        .await;
    assert_eq!(resend.code, 0, "{}", resend.stderr);
    let again = app.received_by(reader);
    assert_eq!(again.len(), 2);
    // Byte for byte, but for the line the SMTP sink adds with the connection's port.
    let as_sent = |raw: &[u8]| -> String {
        String::from_utf8_lossy(raw)
            .lines()
            .filter(|l| !l.starts_with("X-Peer:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        as_sent(&again[0].raw) == as_sent(&again[1].raw),
        "the resent message differs from the one the older build sent"
    );
    // The day again: nothing is sent twice, nothing is paid twice.
    let requests = app
        .llm
        .state
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    let rerun = app.run(&["digest"]).await;
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(app.received().len(), 21);
    assert_eq!(
        app.llm
            .state
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        requests,
        "every decision and vector read back from the migrated store"
    );
    let stats = app.run(&["store", "stats"]).await;
    assert_eq!(stats.code, 0, "{}", stats.stderr);
    for line in stats.stdout.lines() {
        println!("REHEARSAL {line}");
    }
}
