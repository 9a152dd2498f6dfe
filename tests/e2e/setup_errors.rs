//! Setup mistakes an operator makes, each answered in one round and in words they act on
//! (issue 22): a configuration with mistakes of every kind, TLS spoken to a plaintext port, a
//! mailbox that does not exist.

use crate::helpers::*;

#[tokio::test]
async fn a_config_with_eight_mistakes_is_answered_in_one_round() {
    let app = TestApp::spawn(Options::default()).await;
    let text = std::fs::read_to_string(&app.config).unwrap();
    let typos = text
        .replace("[llm]\n", "[llm]\nmodle = \"gpt-4o\"\ntemperature = 0.2\n")
        .replace("concurrency = 2\n", "concurrency = \"two\"\n")
        .replace(
            "[schedule]\n",
            "[schedule]\ncron = \"every morning\"\ntimezone = \"Europe/Berln\"\n",
        )
        .replace(
            "from = \"paperboy <digest@lab.example.org>\"",
            "from = \"paperboy\"",
        )
        .replace("[mail.smtp]\n", "[mail.smtp]\nprot = 25\n");
    let typos = format!("{typos}\n[admin]\nwebhook = \"hooks.example.org/x\"\n");
    std::fs::write(&app.config, typos).unwrap();
    let r = app.run(&["check", "--offline"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let said = r.stderr.clone();
    for needle in [
        "8 problems in the configuration:",
        "key `llm.modle`: unknown key `modle`; did you mean `model`?",
        "key `llm.temperature`: unknown key",
        "key `llm.concurrency`: invalid type: string \"two\"",
        "key `schedule.cron`: `every morning` is not a cron expression",
        "key `schedule.timezone`: `Europe/Berln` is not an IANA time zone",
        "key `mail.from`:",
        "key `mail.smtp.prot`: unknown key `prot`; did you mean `port`?",
        "key `admin.webhook`: `hooks.example.org/x` is not a web address",
    ] {
        assert!(said.contains(needle), "missing {needle:?} in\n{said}");
    }
}

#[tokio::test]
async fn tls_on_a_plaintext_port_and_a_mailbox_that_does_not_exist_are_said_in_words() {
    let app = TestApp::spawn(Options {
        imap_users: vec!["digest@lab.example.org"],
        ..Default::default()
    })
    .await;
    let text = std::fs::read_to_string(&app.config).unwrap();
    // SMTP: implicit TLS to aiosmtpd's plaintext port. IMAP: a mailbox with a typo.
    let wrong = text.replacen("security = \"none\"", "security = \"tls\"", 1);
    let wrong = wrong.replace(
        "password_env = \"PAPERBOY_TEST_IMAP_PASSWORD\"",
        "password_env = \"PAPERBOY_TEST_IMAP_PASSWORD\"\nmailbox = \"Inbx\"",
    );
    std::fs::write(&app.config, wrong).unwrap();
    let r = app.run(&["check", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let detail = |what: &str| -> String {
        v.as_array()
            .unwrap()
            .iter()
            .find(|i| i["check"] == what)
            .map(|i| i["detail"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {what} in {}", r.stdout))
    };
    let mail = detail("mail");
    assert!(
        mail.contains("answered in plain text where TLS was expected")
            && mail.contains("security = \"starttls\"")
            && !mail.contains("InvalidContentType"),
        "{mail}"
    );
    let inbox = detail("inbox");
    assert!(
        inbox.contains("has no mailbox `Inbx`")
            && inbox.contains("usually INBOX")
            && !inbox.contains("Outcome")
            && !inbox.contains("code:"),
        "{inbox}"
    );
}

#[tokio::test]
async fn a_password_file_that_cannot_be_read_is_a_setup_error_not_an_empty_password() {
    let app = TestApp::spawn(Options::default()).await;
    let text = std::fs::read_to_string(&app.config).unwrap();
    let both = text
        .replace(
            "[mail.smtp]\n",
            "[mail.smtp]\npassword_file = \"smtp.secret\"\n",
        )
        .replacen(
            "api_key_env = \"PAPERBOY_TEST_API_KEY\"\n",
            "api_key_env = \"PAPERBOY_TEST_API_KEY\"\napi_key_file = \"llm.secret\"\n",
            1,
        );
    assert!(both.contains("llm.secret"), "{both}");
    std::fs::write(&app.config, both).unwrap();
    let secret = app.dir.path().join("smtp.secret");

    let r = app.run(&["check", "--offline"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("[mail.smtp] password_file: cannot read the secret file")
            && said.contains("smtp.secret"),
        "{said}"
    );
    // The daemon's work refuses to start rather than log in without it: both files named in
    // one round, before anything is created.
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("[mail.smtp] password_file")
            && run
                .stderr
                .contains("[llm] api_key_file: cannot read the secret file"),
        "{}",
        run.stderr
    );
    assert!(app.smtp.messages().is_empty());
    assert!(!app.dir.path().join("data/paperboy.db").exists());
    std::fs::write(app.dir.path().join("llm.secret"), "sk-test-0123456789\n").unwrap();

    std::fs::write(&secret, "\n").unwrap();
    let r = app.run(&["check", "--offline"]).await;
    assert_eq!(r.code, 2);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("is empty"),
        "{}",
        r.stdout
    );

    std::fs::write(&secret, "s3cret\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = app.run(&["check", "--offline"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("readable, but warning:")
            && r.stdout
                .contains("smtp.secret can be read by every user of this machine (mode 644)"),
        "{}",
        r.stdout
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = app.run(&["check", "--offline"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("secret files") && !r.stdout.contains("smtp.secret can be read"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn an_imap_server_that_accepts_and_then_says_nothing_fails_the_poll_in_time() {
    let app = TestApp::spawn(Options::default()).await;
    // Listening, never accepting: the kernel completes the connection and nothing is ever said.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let text = std::fs::read_to_string(&app.config).unwrap();
    let without = app.run(&["inbox", "poll"]).await;
    assert_eq!(
        without.code, 2,
        "no [imap] is the configuration's to fix: {}",
        without.stderr
    );
    assert!(
        without.stderr.contains("no [imap] section"),
        "{}",
        without.stderr
    );
    std::fs::write(
        &app.config,
        format!("{text}\n[imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nusername = \"digest@lab.example.org\"\npassword_env = \"PAPERBOY_TEST_IMAP_PASSWORD\"\ntimeout_secs = 1\n"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let r = app.run(&["inbox", "poll"]).await;
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("did not answer within 1s (its greeting)")
            && r.stderr.contains("timeout_secs"),
        "{}",
        r.stderr
    );
    // Bounded by the configured second, not by the test harness's two minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let check = app.run(&["check", "--json"]).await;
    assert!(
        check.stdout.contains("did not answer within 1s"),
        "{}",
        check.stdout
    );
    drop(silent);
}
