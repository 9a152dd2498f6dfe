//! People who should not get further than they do (issue 11): floods and free text within their
//! bounds, and a message that cannot be handled moved aside without blocking the queue.

use crate::helpers::*;
use crate::replies::*;

/// The inbox's rate of model-read replies, in the `[imap]` section the test app writes.
fn limit_model_replies(app: &TestApp, per_day: u32) {
    let config = std::fs::read_to_string(&app.config).unwrap().replace(
        "password_env = \"PAPERBOY_TEST_IMAP_PASSWORD\"\n",
        &format!(
            "password_env = \"PAPERBOY_TEST_IMAP_PASSWORD\"\nmodel_replies_per_day = {per_day}\n"
        ),
    );
    std::fs::write(&app.config, config).unwrap();
}

#[tokio::test]
async fn floods_and_free_text_stay_within_their_bounds() {
    let Setup { app, digest } = setup().await;
    limit_model_replies(&app, 2);
    let to = digest.reply_to.clone();
    let id = format!("<{}>", digest.message_id);
    let calls_before = app.llm.requests();
    for n in 0..3 {
        let msg = gmail(
            ADA,
            &to,
            &id,
            &format!("<free-{n}@x>"),
            "Could you send me more about sparse attention please?",
        );
        smtp_send(app.smtp.port, ADA, &to, &msg);
        poll(&app).await;
    }
    assert_eq!(
        app.llm.requests() - calls_before,
        2,
        "the third is not read by the model"
    );
    let answers: Vec<Received> = ada_inbox(&app)
        .await
        .into_iter()
        .filter(|m| m.subject.to_lowercase().starts_with("re:"))
        .collect();
    assert_eq!(answers.len(), 3, "every reply is answered");
    assert!(
        answers[2].text.contains("at most 2 times a day"),
        "{}",
        answers[2].text
    );

    // A flood of commands: the first 50 are applied, the rest said to be skipped.
    let flood: Vec<String> = (1..=60).map(|k| format!("add keyword: k{k}")).collect();
    let msg = thunderbird(ADA, &to, &id, "<flood@x>", &flood.join("\r\n"));
    smtp_send(app.smtp.port, ADA, &to, &msg);
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    let file = subscribers_file(&app);
    assert!(
        file.contains("\"k50\"") && !file.contains("\"k51\""),
        "{file}"
    );
    let answer = ada_inbox(&app)
        .await
        .into_iter()
        .rfind(|m| m.in_reply_to == "flood@x")
        .expect("an answer to the flood");
    assert!(
        answer.text.contains("at most 50 commands"),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn replies_cannot_spend_the_digests_budget() {
    let Setup { app, digest } = setup_with("[budget]\nreplies_usd = 0.000001\n").await;
    let to = digest.reply_to.clone();
    let calls_before = app.llm.requests();
    let msg = gmail(
        ADA,
        &to,
        &format!("<{}>", digest.message_id),
        "<free-budget@x>",
        "Please stop sending me papers about reinforcement learning.",
    );
    smtp_send(app.smtp.port, ADA, &to, &msg);
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert_eq!(
        app.llm.requests(),
        calls_before,
        "no model call past the replies' budget"
    );
    let answer = ada_inbox(&app).await.pop().unwrap();
    assert!(
        answer.text.contains("cannot read free text today"),
        "{}",
        answer.text
    );
    assert!(
        !answer.text.contains("budget"),
        "the reader hears nothing of budgets"
    );
}

#[tokio::test]
async fn a_message_that_cannot_be_handled_is_moved_aside_and_the_queue_goes_on() {
    let Setup { app, digest } = setup_with("[admin]\nemail = \"admin@lab.example.org\"\n").await;
    let to = digest.reply_to.clone();
    let id = format!("<{}>", digest.message_id);
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &apple(ADA, &to, &id, "<follow@x>", "follow Yann LeCun"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);

    // Someone breaks the subscribers file by hand; two replies arrive meanwhile.
    let path = app.dir.path().join("subscribers.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{good}\n[[subscriber]]\nemail = \n")).unwrap();
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &apple(ADA, &to, &id, "<ada-2@x>", "relevance 8"),
    );
    let grace_digest: Received = app
        .dovecot
        .as_ref()
        .unwrap()
        .messages(GRACE, "INBOX")
        .await
        .into_iter()
        .map(|(raw, _)| Received::parse(raw))
        .next()
        .expect("Grace's digest");
    let (gto, gid) = (
        grace_digest.reply_to.clone(),
        format!("<{}>", grace_digest.message_id),
    );
    smtp_send(
        app.smtp.port,
        GRACE,
        &gto,
        &apple(GRACE, &gto, &gid, "<grace-1@x>", "relevance 8"),
    );

    let report = poll(&app).await;
    assert_eq!(outcomes(&report), vec!["failed", "failed"], "{report:#}");
    let dovecot = app.dovecot.as_ref().unwrap();
    assert!(
        dovecot.messages(PAPERBOY, "INBOX").await.is_empty(),
        "nothing left to block the inbox"
    );
    assert_eq!(
        dovecot.messages(PAPERBOY, "paperboy.rejected").await.len(),
        2
    );
    let alerts = app.received_by("admin@lab.example.org");
    assert_eq!(alerts.len(), 2, "the admin is told, once per message");
    assert!(
        alerts.iter().any(|a| a.text.contains("<ada-2@x>")),
        "{}",
        alerts[0].text
    );
    let log = app.run(&["inbox", "log", "--json"]).await;
    assert!(log.stdout.contains("\"failed\""), "{}", log.stdout);
    // Not tried again, and not alerted again.
    assert!(outcomes(&poll(&app).await).is_empty());
    assert_eq!(app.received_by("admin@lab.example.org").len(), 2);

    // Once the file is fixed, replies are handled again.
    std::fs::write(&path, good).unwrap();
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &apple(ADA, &to, &id, "<ada-3@x>", "relevance 9"),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
}

#[tokio::test]
async fn passwords_never_reach_the_logs_or_cross_the_network_in_clear_unnoticed() {
    let Setup { app, .. } = setup().await;
    // Every log level on: the IMAP LOGIN (and its password) still never shows.
    let run = app
        .run_with_env(&["inbox", "poll"], &[("RUST_LOG", "trace")])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("DEBUG"), "verbose logging was on");
    assert!(
        !run.stderr.contains(IMAP_PASSWORD),
        "the IMAP password leaked into the logs"
    );

    // A server elsewhere without TLS: check says so, and so does every start.
    let config = std::fs::read_to_string(&app.config).unwrap().replace(
        "host = \"127.0.0.1\"\nsecurity = \"none\"",
        "host = \"mail.lab.example.org\"\nsecurity = \"none\"",
    );
    std::fs::write(&app.config, config).unwrap();
    let check = app.run(&["check", "--offline"]).await;
    assert_eq!(check.code, 2, "a configuration problem: {}", check.stdout);
    assert!(
        check.stdout.contains(
            "the IMAP password would cross the network unencrypted to mail.lab.example.org"
        ),
        "{}",
        check.stdout
    );
    let preview = app.run(&["runs"]).await;
    assert_eq!(preview.code, 0);
    let digest = app.run(&["digest", "--dry-run"]).await;
    assert!(
        digest
            .stderr
            .contains("would cross the network unencrypted"),
        "{}",
        digest.stderr
    );
}
