//! Replies, end to end: digests go out over SMTP into the subscribers' Dovecot mailboxes; replies
//! written the way Gmail, Outlook, Apple Mail and Thunderbird write them come back through SMTP
//! into paperboy's mailbox; `paperboy inbox poll` reads it over IMAP, applies what is allowed and
//! answers in the thread.

use serde_json::Value;

use crate::helpers::*;

pub const PAPERBOY: &str = "digest@lab.example.org";
pub const ADA: &str = "ada@lab.example.org";
pub const GRACE: &str = "grace@lab.example.org";

pub struct Setup {
    pub app: TestApp,
    /// Ada's digest as she received it (over IMAP).
    pub digest: Received,
}

pub async fn setup() -> Setup {
    setup_with("").await
}

/// [`setup`] with `extra` configuration (e.g. `[admin]` or `[budget]` sections).
pub async fn setup_with(extra: &str) -> Setup {
    let app = TestApp::spawn(Options {
        imap_users: vec![
            PAPERBOY,
            ADA,
            GRACE,
            "mallory@evil.example.org",
            "admin@lab.example.org",
        ],
        extra_config: extra.to_string(),
        ..Default::default()
    })
    .await;
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let digest = ada_inbox(&app)
        .await
        .pop()
        .expect("Ada's digest arrived in her mailbox");
    Setup { app, digest }
}

impl Setup {
    /// Ada answers her digest from Gmail with `command` (Message-ID `id`), over SMTP.
    pub fn ada_replies(&self, id: &str, command: &str) {
        let to = &self.digest.reply_to;
        let digest_id = format!("<{}>", self.digest.message_id);
        smtp_send(
            self.app.smtp.port,
            ADA,
            to,
            &gmail(ADA, to, &digest_id, id, command),
        );
    }
}

pub async fn ada_inbox(app: &TestApp) -> Vec<Received> {
    app.dovecot
        .as_ref()
        .unwrap()
        .messages(ADA, "INBOX")
        .await
        .into_iter()
        .map(|(raw, _)| Received::parse(raw))
        .collect()
}

pub fn subscribers_file(app: &TestApp) -> String {
    std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap()
}

pub async fn poll(app: &TestApp) -> Value {
    let run = app.run(&["inbox", "poll", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

pub fn outcomes(report: &Value) -> Vec<String> {
    report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["outcome"].as_str().unwrap().to_string())
        .collect()
}

/// A `Date:` on the test day, its time of day drawn from the Message-ID: as with real mail, two
/// messages are never sent in the same second, so a message sent again under a new Message-ID
/// (a replay) is the only one with another's date and text.
pub fn date_of(id: &str, zone: &str) -> String {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let s = h % 86_400;
    format!(
        "Fri, 28 Mar 2025 {:02}:{:02}:{:02} {zone}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Gmail: multipart/alternative, quoted-printable, the attribution line wrapped over two lines.
pub fn gmail(from: &str, to: &str, in_reply_to: &str, id: &str, command: &str) -> Vec<u8> {
    let date = date_of(id, "+0000");
    format!(
        "From: Ada Lovelace <{from}>\r\nTo: paperboy <{to}>\r\nSubject: Re: arXiv digest Fri 28 Mar 2025: 5 papers\r\n\
         Message-ID: {id}\r\nIn-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\nDate: {date}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"000000000000b1\"\r\n\r\n\
         --000000000000b1\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         {command}\r\n\r\nOn Fri, Mar 28, 2025 at 6:00=E2=80=AFAM paperboy <\r\n{to}> wrote:\r\n\r\n> Personalized Daily arXiv Papers\r\n> add topic: quoted and never applied\r\n\r\n\
         --000000000000b1\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         <div dir=3D\"ltr\">{command}</div><br><div class=3D\"gmail_quote\">On Fri, Mar 28, 2025 wrote:<blockquote>add topic: quoted</blockquote></div>\r\n\
         --000000000000b1--\r\n"
    )
    .into_bytes()
}

/// Outlook: HTML only, ISO-8859-1, quoted-printable, the "From: … Sent: …" block.
pub fn outlook(
    from: &str,
    to: &str,
    in_reply_to: &str,
    id: &str,
    command_latin1_qp: &str,
) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <{from}>\r\nTo: \"paperboy\" <{to}>\r\nSubject: RE: arXiv digest\r\nMessage-ID: {id}\r\n\
         In-Reply-To: {in_reply_to}\r\nThread-Topic: arXiv digest\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=\"iso-8859-1\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         <html><head><meta http-equiv=3D\"Content-Type\" content=3D\"text/html; charset=3Diso-8859-1\"></head><body>\r\n\
         <div style=3D\"font-family: Calibri\">{command_latin1_qp}</div>\r\n<div id=3D\"appendonsend\"></div><hr style=3D\"display:inline-block;width:98%\">\r\n\
         <div id=3D\"divRplyFwdMsg\"><b>From:</b> paperboy &lt;{to}&gt;<br><b>Sent:</b> Friday, March 28, 2025 6:00 AM<br>\r\n\
         <b>To:</b> Ada<br><b>Subject:</b> arXiv digest</div><div>add topic: quoted and never applied</div></body></html>\r\n"
    )
    .into_bytes()
}

/// Apple Mail (iPhone): format=flowed, "Sent from my iPhone", the attribution inside the quote.
pub fn apple(from: &str, to: &str, in_reply_to: &str, id: &str, command: &str) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <{from}>\r\nTo: paperboy <{to}>\r\nSubject: Re: arXiv digest\r\nMessage-Id: {id}\r\n\
         In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\nMime-Version: 1.0 (1.0)\r\nX-Mailer: iPhone Mail (22D82)\r\n\
         Content-Type: text/plain; charset=utf-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {command}\r\n\r\nSent from my iPhone\r\n\r\n> On 28 Mar 2025, at 06:00, paperboy <{to}> wrote:\r\n> \r\n> add topic: quoted\r\n"
    )
    .into_bytes()
}

/// Thunderbird: plain UTF-8, "On 3/28/25 06:00, paperboy wrote:".
pub fn thunderbird(from: &str, to: &str, in_reply_to: &str, id: &str, command: &str) -> Vec<u8> {
    let date = date_of(id, "+0100");
    format!(
        "Message-ID: {id}\r\nDate: {date}\r\nMIME-Version: 1.0\r\nUser-Agent: Mozilla Thunderbird\r\n\
         Subject: Re: arXiv digest\r\nTo: paperboy <{to}>\r\nReferences: {in_reply_to}\r\nFrom: Ada Lovelace <{from}>\r\n\
         In-Reply-To: {in_reply_to}\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {command}\r\n\r\nOn 3/28/25 06:00, paperboy wrote:\r\n> Personalized Daily arXiv Papers\r\n> add topic: quoted\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn replies_from_four_mail_clients_are_applied_and_confirmed() {
    let Setup { app, digest } = setup().await;
    // Every digest carries the subscriber's own reply address and an unsubscribe address.
    assert!(
        digest.reply_to.starts_with("digest+") && digest.reply_to.ends_with("@lab.example.org"),
        "{}",
        digest.reply_to
    );
    let token = digest
        .reply_to
        .trim_start_matches("digest+")
        .split('@')
        .next()
        .unwrap()
        .to_string();
    assert!(token.len() >= 32, "an unguessable token");
    let unsub_token = digest
        .list_unsubscribe
        .trim_start_matches("<mailto:digest+unsub-")
        .split('@')
        .next()
        .unwrap()
        .to_string();
    assert!(unsub_token.len() >= 32);
    assert_ne!(unsub_token, token, "two capabilities, not one password");
    assert_eq!(
        digest.list_unsubscribe,
        format!("<mailto:digest+unsub-{unsub_token}@lab.example.org?subject=unsubscribe>")
    );
    assert!(digest
        .text
        .contains("Reply to this email to change your digest"));
    let digest_id = format!("<{}>", digest.message_id);
    let to = digest.reply_to.clone();

    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &gmail(
            ADA,
            &to,
            &digest_id,
            "<gmail-1@mail.gmail.com>",
            "add topic: sparse attention",
        ),
    );
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &outlook(
            ADA,
            &to,
            &digest_id,
            "<outlook-1@outlook.com>",
            "follow Bj=F6rn Ommer",
        ),
    );
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &apple(ADA, &to, &digest_id, "<apple-1@icloud.com>", "relevance 8"),
    );
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &thunderbird(
            ADA,
            &to,
            &digest_id,
            "<tb-1@lab.example.org>",
            "more like 2\r\nmax 15",
        ),
    );

    let report = poll(&app).await;
    assert_eq!(outcomes(&report), vec!["applied"; 4], "{report:#}");
    assert_eq!(report["answers_sent"], 4);

    let file = subscribers_file(&app);
    assert!(
        file.contains("Mixture-of-Experts, quantization and sparsity.\nsparse attention"),
        "{file}"
    );
    assert!(
        !file.contains("quoted and never applied"),
        "quoted text is never a command"
    );
    assert!(
        file.contains("authors = [\"Bj\\\\\"orn Schuller\", \"Björn Ommer\"]")
            || file.contains("\"Björn Ommer\""),
        "ISO-8859-1 decoded: {file}"
    );
    assert!(file.contains("min_relevance = 8") && file.contains("max_papers = 15"));

    // "more like 2" remembers the second paper of the digest replied to as an example.
    let db = app.db();
    let (paper, more): (String, i64) = db
        .query_row("SELECT paper_id, more FROM examples", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let second = digest
        .text
        .split("\nArXiv ID: ")
        .nth(2)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!((paper.as_str(), more), (second.as_str(), 1));

    // Each change is in the audit trail, by reply.
    let actors: Vec<(String, String)> = db
        .prepare("SELECT actor, detail FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        actors.len(),
        4,
        "one change per reply: topic, follow, relevance, max (the example is kept in SQLite)"
    );
    assert!(actors.iter().all(|(a, _)| a == "reply"));
    assert_eq!(actors[0].1, "<gmail-1@mail.gmail.com>");

    // The confirmations arrive in Ada's mailbox, in the thread of each reply.
    let inbox = ada_inbox(&app).await;
    let confirmations: Vec<&Received> = inbox
        .iter()
        .filter(|m| m.subject.to_lowercase().starts_with("re:"))
        .collect();
    assert_eq!(confirmations.len(), 4);
    let gmail_answer = confirmations
        .iter()
        .find(|m| m.in_reply_to == "gmail-1@mail.gmail.com")
        .expect("threaded answer");
    assert!(
        gmail_answer.text.contains("added topic: sparse attention"),
        "{}",
        gmail_answer.text
    );
    // Short: what changed, not the whole profile.
    assert!(
        !gmail_answer.text.contains("Your topics now:"),
        "{}",
        gmail_answer.text
    );
    assert!(
        gmail_answer.text.lines().count() <= 10,
        "{}",
        gmail_answer.text
    );
    assert!(gmail_answer.text.contains("Reply \"undo\" to revert"));
    assert_eq!(gmail_answer.reply_to, to, "answers keep the reply address");

    // Handled messages are flagged \Seen and moved out of the inbox.
    let dovecot = app.dovecot.as_ref().unwrap();
    assert!(dovecot.messages(PAPERBOY, "INBOX").await.is_empty());
    let processed = dovecot.messages(PAPERBOY, "paperboy.processed").await;
    assert_eq!(processed.len(), 4);
    assert!(
        processed
            .iter()
            .all(|(_, flags)| flags.iter().any(|f| f.contains("Seen"))),
        "{processed:?}"
    );

    // Polling again changes nothing twice.
    let again = poll(&app).await;
    assert!(outcomes(&again).is_empty());
    assert_eq!(subscribers_file(&app), file);
    assert_eq!(
        ada_inbox(&app).await.len(),
        inbox.len(),
        "no second confirmation"
    );

    // The admin sees the replies without opening SQLite.
    let log = app.run(&["inbox", "log", "--json"]).await;
    assert_eq!(log.code, 0, "{}", log.stderr);
    let entries: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert!(
        entries
            .iter()
            .all(|e| e["outcome"] == "applied" && e["subscriber"] == "ada@lab.example.org"),
        "{entries:?}"
    );
    assert!(
        entries.iter().all(|e| e["reply_status"] == "sent"),
        "{entries:?}"
    );
    let log = app.run(&["inbox", "log"]).await;
    assert!(
        log.stdout.contains("applied") && log.stdout.contains("ada@lab.example.org"),
        "{}",
        log.stdout
    );
}

#[tokio::test]
async fn forged_foreign_automatic_and_oversized_messages_change_nothing() {
    let Setup { app, digest } = setup().await;
    let before = subscribers_file(&app);
    let to = digest.reply_to.clone();
    let digest_id = format!("<{}>", digest.message_id);
    let dovecot = app.dovecot.as_ref().unwrap();

    // Forged From: Grace's address on Ada's reply token.
    smtp_send(
        app.smtp.port,
        GRACE,
        &to,
        &thunderbird(GRACE, &to, &digest_id, "<forged-1@x>", "unsubscribe"),
    );
    // A stranger writing to the plain address, no token, no digest replied to.
    let stranger = "From: Mallory <mallory@evil.example.org>\r\nTo: digest@lab.example.org\r\nSubject: hi\r\nMessage-ID: <stranger-1@evil>\r\n\r\npause\r\n";
    smtp_send(
        app.smtp.port,
        "mallory@evil.example.org",
        PAPERBOY,
        stranger.as_bytes(),
    );
    // Ada's token, but a made-up one for someone else: unknown token.
    let bad_to = "digest+0123456789abcdef0123456789abcdef@lab.example.org";
    smtp_send(
        app.smtp.port,
        ADA,
        bad_to,
        &thunderbird(ADA, bad_to, "<nothing@x>", "<badtoken-1@x>", "pause"),
    );
    // Ada's vacation responder.
    let vacation = format!(
        "From: Ada Lovelace <{ADA}>\r\nTo: {to}\r\nSubject: Out of Office: arXiv digest\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo-1@x>\r\nIn-Reply-To: {digest_id}\r\n\r\nI am away until Monday. pause\r\n"
    );
    smtp_send(app.smtp.port, ADA, &to, vacation.as_bytes());
    // A bounce.
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@lab.example.org>\r\nTo: {to}\r\nSubject: Undelivered Mail\r\nMessage-ID: <bounce-1@x>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\npause\r\n--b--\r\n"
    );
    smtp_send(
        app.smtp.port,
        "mailer-daemon@lab.example.org",
        &to,
        bounce.as_bytes(),
    );
    // Over 1 MiB.
    let mut big = thunderbird(ADA, &to, &digest_id, "<big-1@x>", "unsubscribe");
    big.extend(std::iter::repeat_n(b'x', 1100 * 1024));
    big.extend_from_slice(b"\r\n");
    dovecot.append(PAPERBOY, &big).await;

    let report = poll(&app).await;
    let mut got = outcomes(&report);
    got.sort();
    assert_eq!(
        got,
        vec!["ignored", "ignored", "ignored", "rejected", "rejected", "rejected"],
        "{report:#}"
    );
    assert_eq!(report["answers_sent"], 0, "no backscatter");
    assert_eq!(subscribers_file(&app), before);
    assert_eq!(app.count("SELECT count(*) FROM audit"), 0);
    let details: Vec<String> = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(details.iter().any(|d| d.contains("sent from grace@lab.example.org but the token or digest belongs to ada@lab.example.org")), "{details:?}");
    assert!(details.iter().any(|d| d.contains("over the 1 MiB limit")));
    assert!(details.iter().any(|d| d.contains("Auto-Submitted")));
    assert_eq!(
        dovecot.messages(PAPERBOY, "paperboy.rejected").await.len(),
        6
    );
    assert_eq!(ada_inbox(&app).await.len(), 1, "only the digest");
    assert!(dovecot
        .messages("mallory@evil.example.org", "INBOX")
        .await
        .is_empty());
}

#[tokio::test]
async fn unsubscribing_takes_the_readers_word_and_is_undone() {
    let Setup { app, digest } = setup().await;
    let unsub = digest
        .list_unsubscribe
        .trim_start_matches("<mailto:")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let before = subscribers_file(&app);
    // Someone holding a forwarded digest writes to Ada's unsubscribe address: nothing changes,
    // Ada is asked (at her own address) to confirm.
    let msg = format!("From: someone@elsewhere.example.org\r\nTo: {unsub}\r\nSubject: unsubscribe\r\nMessage-ID: <unsub-1@x>\r\n\r\n");
    smtp_send(
        app.smtp.port,
        "someone@elsewhere.example.org",
        &unsub,
        msg.as_bytes(),
    );
    let report = poll(&app).await;
    assert_eq!(outcomes(&report), vec!["answered"]);
    assert_eq!(
        subscribers_file(&app),
        before,
        "a forwarded digest removes nobody"
    );
    let request = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.text.contains("someone@elsewhere.example.org"))
        .expect("Ada is asked to confirm");
    assert_eq!(request.to, ADA);
    assert!(
        request.text.contains("Nothing has changed"),
        "{}",
        request.text
    );

    // Ada confirms by replying "unsubscribe": paused and marked, her entry kept.
    let to = request.reply_to.clone();
    let reply = apple(
        ADA,
        &to,
        &format!("<{}>", request.message_id),
        "<confirm-1@x>",
        "unsubscribe",
    );
    smtp_send(app.smtp.port, ADA, &to, &reply);
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    let file = subscribers_file(&app);
    assert!(
        file.contains(ADA) && file.contains("paused = true"),
        "{file}"
    );
    assert!(
        file.contains("Mixture-of-Experts, quantization and sparsity."),
        "{file}"
    );
    let confirmation = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.text.contains("You are unsubscribed"))
        .expect("confirmation to Ada");
    assert_eq!(confirmation.to, ADA);

    // "undo" brings her back.
    let to = confirmation.reply_to.clone();
    let undo = apple(
        ADA,
        &to,
        &format!("<{}>", confirmation.message_id),
        "<undo-1@x>",
        "undo",
    );
    smtp_send(app.smtp.port, ADA, &to, &undo);
    assert_eq!(outcomes(&poll(&app).await), vec!["undid"]);
    assert!(!subscribers_file(&app).contains("paused = true"));
    let history = app.run(&["subscribers", "history", ADA, "--json"]).await;
    let rows: Value = serde_json::from_str(&history.stdout).unwrap();
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["unsubscribe (by mail)", "undo"]);

    // Her mail client's one-click List-Unsubscribe (from her own address) works at once.
    let msg = format!(
        "From: {ADA}\r\nTo: {unsub}\r\nSubject: unsubscribe\r\nMessage-ID: <unsub-2@x>\r\n\r\n"
    );
    smtp_send(app.smtp.port, ADA, &unsub, msg.as_bytes());
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    assert!(subscribers_file(&app).contains("paused = true"));

    // Rotated tokens: the old reply address stops working.
    let rotate = app.run(&["subscribers", "rotate-token", ADA]).await;
    assert_eq!(rotate.code, 0, "{}", rotate.stderr);
    let old = digest.reply_to.clone();
    let stale = apple(ADA, &old, "<nobody@x>", "<old-1@x>", "resume");
    smtp_send(app.smtp.port, ADA, &old, &stale);
    let report = poll(&app).await;
    assert_eq!(outcomes(&report), vec!["rejected"], "{report:#}");
    assert!(subscribers_file(&app).contains("paused = true"));

    // Removed readers' tokens die with them.
    let tokens_before =
        app.count("SELECT count(*) FROM reply_tokens WHERE subscriber = 'ada@lab.example.org'");
    assert_eq!(tokens_before, 1);
    assert_eq!(app.run(&["subscribers", "remove", ADA]).await.code, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM reply_tokens WHERE subscriber = 'ada@lab.example.org'"),
        0
    );
}

#[tokio::test]
async fn undo_help_free_text_and_text_that_looks_like_toml() {
    let Setup { app, digest } = setup().await;
    let to = digest.reply_to.clone();
    let id = format!("<{}>", digest.message_id);
    let send = |mid: &str, body: &str| {
        smtp_send(
            app.smtp.port,
            ADA,
            &to,
            &thunderbird(ADA, &to, &id, mid, body),
        )
    };

    // Text is data: quotes, brackets, TOML and HTML never break the file or the mail.
    let evil =
        r#"add topic: "quoted" ]] [[subscriber]] email = "mallory@evil.example.org" <b>bold</b>"#;
    send("<evil-1@x>", evil);
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    let file = subscribers_file(&app);
    let parsed: toml::Table = file.parse().expect("still valid TOML");
    assert_eq!(
        parsed["subscriber"].as_array().unwrap().len(),
        2,
        "no subscriber was injected"
    );
    let answer = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "evil-1@x")
        .unwrap();
    assert!(answer
        .text
        .contains(r#"quoted" ]] [[subscriber]] email = "mallory@evil.example.org" <b>bold</b>"#));

    // Undo reverts the last change made by reply.
    send("<undo-2@x>", "undo");
    assert_eq!(outcomes(&poll(&app).await), vec!["undid"]);
    assert!(!subscribers_file(&app).contains("mallory"));
    // An undo of the undo is refused: it would re-apply what was reverted.
    send("<undo-3@x>", "undo");
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert!(!subscribers_file(&app).contains("mallory"));
    let refusal = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "undo-3@x")
        .unwrap();
    assert!(
        refusal.text.contains("cannot be undone by reply"),
        "{}",
        refusal.text
    );

    // Nothing understood, no model needed for "help": the help text from emails/.
    send("<help-1@x>", "help");
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    let help = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "help-1@x")
        .unwrap();
    assert!(help.text.contains("add topic: TEXT") && help.text.contains("Your topics now:"));

    // Pause and resume; "topics" lists them.
    send("<pause-1@x>", "Pause.");
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    assert!(subscribers_file(&app).contains("paused = true"));
    send("<resume-1@x>", "resume\ntopics");
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    assert!(!subscribers_file(&app).contains("paused"));
    send("<topics-1@x>", "topics");
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    let listing = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "topics-1@x")
        .unwrap();
    assert!(
        listing
            .text
            .contains("1. Mixture-of-Experts, quantization and sparsity."),
        "{}",
        listing.text
    );

    // Free text goes to the model, whose suggestions are validated like any command.
    send(
        "<free-1@x>",
        "Hi! Could you also send me papers on graph neural networks? Thanks, Ada",
    );
    let report = poll(&app).await;
    assert_eq!(outcomes(&report), vec!["applied"], "{report:#}");
    assert!(subscribers_file(&app).contains("graph neural networks"));
    let answer = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "free-1@x")
        .unwrap();
    assert!(answer.text.contains("added topic: graph neural networks"));
    assert!(
        answer.text.contains("make it sparkle"),
        "the invalid suggestion is reported, not applied: {}",
        answer.text
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM spend WHERE subscriber = 'ada@lab.example.org' AND papers = 0"
        ),
        1,
        "the model call is in the ledger"
    );
}

#[tokio::test]
async fn inbox_parse_explains_a_message() {
    let Setup { app, digest } = setup().await;
    // Not a mail message at all: a usage error, not a silent success.
    let notes = app.dir.path().join("notes.txt");
    std::fs::write(&notes, "add topic: sparse attention\n").unwrap();
    let run = app.run(&["inbox", "parse", notes.to_str().unwrap()]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not a mail message"),
        "{}",
        run.stderr
    );
    let to = digest.reply_to.clone();
    let file = app.dir.path().join("reply.eml");
    std::fs::write(
        &file,
        gmail(
            ADA,
            &to,
            &format!("<{}>", digest.message_id),
            "<p-1@x>",
            "follow Yann LeCun\r\nrelevance eleven",
        ),
    )
    .unwrap();
    let run = app
        .run(&["inbox", "parse", file.to_str().unwrap(), "--json"])
        .await;
    assert_eq!(run.code, 0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["status"], "authenticated");
    assert_eq!(v["subscriber"], ADA);
    assert!(v["why"].as_str().unwrap().contains("reply token"));
    assert_eq!(v["commands"], serde_json::json!(["follow Yann LeCun"]));
    assert!(v["invalid"][0].as_str().unwrap().contains("needs a number"));
    std::fs::write(&file, gmail(GRACE, &to, "<x@y>", "<p-2@x>", "pause")).unwrap();
    let run = app.run(&["inbox", "parse", file.to_str().unwrap()]).await;
    assert!(
        run.stdout.contains("failed") && run.stdout.contains("belongs to ada@lab.example.org"),
        "{}",
        run.stdout
    );
    assert_eq!(
        app.count("SELECT count(*) FROM inbound"),
        0,
        "parse changes nothing"
    );
}

#[tokio::test]
async fn the_daemon_polls_the_inbox_on_its_own_timer() {
    let Setup { app, digest } = setup().await;
    let to = digest.reply_to.clone();
    let daemon = Daemon::start(
        &app,
        &[
            ("PAPERBOY_FAKE_NOW", "2025-03-28T10:00:00Z"),
            ("PAPERBOY__IMAP__POLL_SECONDS", "1"),
        ],
    );
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &thunderbird(
            ADA,
            &to,
            &format!("<{}>", digest.message_id),
            "<daemon-1@x>",
            "novelty 7",
        ),
    );
    wait_until(60, "the reply applied by the daemon", || {
        subscribers_file(&app).contains("min_novelty = 7")
    })
    .await;
    daemon.wait_log("inbox polled", 1, 30).await;
    assert_eq!(daemon.term(10).await, 0);
    let answer = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "daemon-1@x");
    assert!(answer.is_some_and(|a| a.text.contains("novelty bar now 7")));
}

#[tokio::test]
async fn replies_are_read_over_starttls_and_tls_with_an_internal_ca() {
    let app = TestApp::spawn(Options {
        imap_users: vec![PAPERBOY, ADA],
        imap_tls: true,
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let digest = ada_inbox(&app).await.pop().unwrap();
    let to = digest.reply_to.clone();
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &thunderbird(
            ADA,
            &to,
            &format!("<{}>", digest.message_id),
            "<tls-1@x>",
            "max 12",
        ),
    );

    // STARTTLS on the IMAP port, the server's certificate checked against the lab's CA.
    assert_eq!(outcomes(&poll(&app).await), vec!["applied"]);
    assert!(subscribers_file(&app).contains("max_papers = 12"));
    let dovecot = app.dovecot.as_ref().unwrap();
    let log = std::fs::read_to_string(&dovecot.log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("Login: user=<digest@lab.example.org>") && l.contains("TLS")),
        "paperboy logged in over TLS:\n{log}"
    );

    // Implicit TLS on the imaps port.
    let (imaps, _) = dovecot.tls.clone().unwrap();
    let port = imaps.to_string();
    let tls_env = [
        ("PAPERBOY__IMAP__SECURITY", "tls"),
        ("PAPERBOY__IMAP__PORT", port.as_str()),
    ];
    let check = app.run_with_env(&["check"], &tls_env).await;
    let line = check
        .stdout
        .lines()
        .find(|l| l.contains(" inbox "))
        .unwrap();
    assert!(line.starts_with("ok"), "{line}");

    // Without the CA the certificate is refused: no silent fallback to an unchecked connection.
    let no_ca = [
        ("PAPERBOY__IMAP__SECURITY", "tls"),
        ("PAPERBOY__IMAP__PORT", port.as_str()),
        ("PAPERBOY__IMAP__CA_FILE", "/dev/null"),
    ];
    let check = app.run_with_env(&["check"], &no_ca).await;
    assert_eq!(check.code, 1);
    let line = check
        .stdout
        .lines()
        .find(|l| l.contains(" inbox "))
        .unwrap();
    assert!(line.starts_with("failed") && line.contains("TLS"), "{line}");
}

#[tokio::test]
async fn without_a_model_free_text_gets_the_help_text() {
    let app = TestApp::spawn(Options {
        imap_users: vec![PAPERBOY, ADA],
        api_key: false,
        ..Default::default()
    })
    .await;
    assert_eq!(app.run(&["digest"]).await.code, 0);
    let digest = ada_inbox(&app).await.pop().unwrap();
    let to = digest.reply_to.clone();
    let before = subscribers_file(&app);
    smtp_send(
        app.smtp.port,
        ADA,
        &to,
        &thunderbird(
            ADA,
            &to,
            &format!("<{}>", digest.message_id),
            "<free-2@x>",
            "Could you send fewer robotics papers please?",
        ),
    );
    assert_eq!(outcomes(&poll(&app).await), vec!["answered"]);
    assert_eq!(subscribers_file(&app), before);
    let help = ada_inbox(&app)
        .await
        .into_iter()
        .find(|m| m.in_reply_to == "free-2@x")
        .unwrap();
    assert!(
        help.text.contains("add topic: TEXT") && help.text.contains("I did not understand"),
        "{}",
        help.text
    );
    assert_eq!(app.llm.requests(), 0);
}
