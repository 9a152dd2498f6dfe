//! The test harness: a temp directory with config, subscribers and prompts; stand-ins for arXiv
//! and the model (local HTTP, real wire formats); a real SMTP server (aiosmtpd); and the
//! `paperboy` binary run against them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_parser::MimeHeaders as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const FEED_DAY: &str = "rss-cs.LG+cs.AI-2025-03-28.xml";
pub const FEED_EMPTY: &str = "rss-cs.LG+cs.AI-weekend-empty.xml";
pub const FEED_ESCAPING: &str = "rss-escaping.xml";
pub const RSS_PATH: &str = "/rss/cs.LG+cs.AI";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/arxiv").join(name)).unwrap()
}

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `cond` every 50 ms until it holds, for at most `secs` seconds.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls until something accepts connections on `port`.
pub async fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not start listening on port {port}");
}

// ---------------------------------------------------------------------------------------------
// SMTP: a real server (aiosmtpd) writing to a Maildir.

pub struct Smtp {
    child: std::process::Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Smtp {
    pub async fn start(dir: &Path, extra: &[&str]) -> Smtp {
        Smtp::start_on(free_port(), dir, extra).await
    }

    pub async fn start_on(port: u16, dir: &Path, extra: &[&str]) -> Smtp {
        let python = Path::new("/usr/bin/python3");
        assert!(
            python.exists(),
            "/usr/bin/python3 with python3-aiosmtpd is needed; run the README's test command, which installs it"
        );
        let maildir = dir.join("smtp-maildir");
        let child = std::process::Command::new(python)
            .arg(repo().join("tests/support/smtp_sink.py"))
            .args(["--port", &port.to_string(), "--maildir"])
            .arg(&maildir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        wait_for_port(port, "the SMTP sink").await;
        Smtp {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far, as raw bytes, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.flatten() {
                    let meta = e.metadata().unwrap();
                    files.push((meta.modified().unwrap(), e.path()));
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| std::fs::read(p).unwrap())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// IMAP: a real Dovecot, unprivileged on a free port, serving one Maildir per user.

pub struct Dovecot {
    child: std::process::Child,
    pub port: u16,
    pub mailroot: PathBuf,
    /// With TLS: the port of implicit TLS (imaps), and the test CA that signed the server's cert.
    pub tls: Option<(u16, PathBuf)>,
    pub log: PathBuf,
}

/// A test CA and a server certificate for localhost signed by it: (ca.pem, server.pem, server.key).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=paperboy test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

pub const IMAP_PASSWORD: &str = "secret";

impl Dovecot {
    pub async fn start(dir: &Path, users: &[&str], with_tls: bool) -> Dovecot {
        let dovecot = Path::new("/usr/sbin/dovecot");
        assert!(
            dovecot.exists(),
            "dovecot is needed; run the README's test command, which installs dovecot-imapd"
        );
        let root = dir.join("dovecot");
        let mailroot = root.join("mail");
        for d in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for d in [dir, root.as_path(), mailroot.as_path()] {
            let mut perms = std::fs::metadata(d).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(d, perms).unwrap();
        }
        let status = std::process::Command::new("chown")
            .args(["dovecot:dovecot"])
            .arg(&mailroot)
            .status()
            .unwrap();
        assert!(status.success(), "chown the mail directory to dovecot");
        let users_file: String = users
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}{IMAP_PASSWORD}\n"))
            .collect();
        std::fs::write(root.join("users"), users_file).unwrap();
        let port = free_port();
        let r = root.display();
        let mut tls = None;
        let mut tls_conf = String::from("ssl = no\n");
        let mut imaps = String::new();
        if with_tls {
            let (ca, cert, key) = make_certs(&root);
            let imaps_port = free_port();
            tls_conf = format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                cert.display(),
                key.display()
            );
            imaps =
                format!("  inet_listener imaps {{\n    port = {imaps_port}\n    ssl = yes\n  }}\n");
            tls = Some((imaps_port, ca));
        }
        let conf = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\n\
             {tls_conf}disable_plaintext_auth = no\nauth_mechanisms = plain login\ndefault_internal_user = dovecot\n\
             default_login_user = dovenull\ndefault_internal_group = dovecot\nfirst_valid_uid = 1\n\
             mail_location = maildir:{r}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={r}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n{imaps}}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), conf).unwrap();
        let child = std::process::Command::new(dovecot)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dovecot");
        wait_for_port(port, "dovecot").await;
        if let Some((p, _)) = &tls {
            wait_for_port(*p, "dovecot (imaps)").await;
        }
        Dovecot {
            child,
            port,
            mailroot,
            tls,
            log: root.join("dovecot.log"),
        }
    }

    async fn session(&self, user: &str) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        client
            .login(user, IMAP_PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// The messages in `user`'s `folder`, read over IMAP, with their flags.
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<(Vec<u8>, Vec<String>)> {
        use futures::TryStreamExt as _;
        let mut s = self.session(user).await;
        let mut out = Vec::new();
        if s.select(folder).await.is_ok() {
            let fetched: Vec<_> = s
                .fetch("1:*", "(FLAGS BODY.PEEK[])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap_or_default();
            for f in fetched {
                let flags = f.flags().map(|f| format!("{f:?}")).collect();
                out.push((f.body().unwrap_or_default().to_vec(), flags));
            }
        }
        let _ = s.logout().await;
        out
    }

    /// Puts a message straight into `user`'s INBOX (IMAP APPEND).
    pub async fn append(&self, user: &str, raw: &[u8]) {
        let mut s = self.session(user).await;
        s.append("INBOX", None, None, raw).await.unwrap();
        let _ = s.logout().await;
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A `paperboy run` in the background, its log collected as it is written.
pub struct Daemon {
    child: tokio::process::Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(app: &TestApp, env: &[(&str, &str)]) -> Daemon {
        Daemon::watch(app.spawn_paperboy(&["run"], env))
    }

    /// The daemon with at most `limit` open files (through util-linux's `prlimit`).
    pub fn start_with_open_files(app: &TestApp, env: &[(&str, &str)], limit: u64) -> Daemon {
        let mut cmd = app.command_via(
            &["prlimit", &format!("--nofile={limit}:{limit}"), "--"],
            &["run"],
            env,
        );
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Daemon::watch(cmd.spawn().expect("start paperboy under prlimit"))
    }

    fn watch(mut child: tokio::process::Child) -> Daemon {
        use tokio::io::AsyncBufReadExt as _;
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("daemon: {line}");
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log has `n` lines containing `pattern`.
    pub async fn wait_log(&self, pattern: &str, n: usize, secs: u64) {
        wait_until(
            secs,
            &format!("{n}× `{pattern}` in the daemon log"),
            || self.log().matches(pattern).count() >= n,
        )
        .await;
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} {pid}");
    }

    /// SIGHUP: read the configuration and the subscribers file again.
    pub fn hangup(&self) {
        self.signal("HUP");
    }

    /// SIGTERM, then the exit code (it must exit within `secs`).
    pub async fn term(mut self, secs: u64) -> i32 {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(secs), self.child.wait())
            .await
            .expect("exited in time")
            .unwrap();
        status.code().unwrap_or(-1)
    }

    /// SIGKILL: no chance to clean up.
    pub async fn kill9(mut self) {
        self.signal("KILL");
        let _ = self.child.wait().await;
    }
}

/// Sends a raw message through the test SMTP server, as a mail client would.
pub fn smtp_send(port: u16, from: &str, to: &str, raw: &[u8]) {
    use lettre::Transport as _;
    let transport = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let envelope =
        lettre::address::Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()])
            .unwrap();
    transport
        .send_raw(&envelope, raw)
        .expect("the SMTP sink accepts the message");
}

pub use crate::llm_stand_in::*;

// ---------------------------------------------------------------------------------------------
// The app under test.

pub const TWO_SUBSCRIBERS: &str = r#"
# Ada follows Björn Schuller (written in TeX on purpose) and reads about MoE.
[[subscriber]]
email = "ada@lab.example.org"
name = "Ada Lovelace"
topics = "Mixture-of-Experts, quantization and sparsity."
authors = ['Bj\"orn Schuller']
keywords = ["quantization"]

# Grace reads about language models; she follows nobody.
[[subscriber]]
email = "grace@lab.example.org"
name = "Grace Hopper"
topics = "Language models and how they learn."
"#;

pub struct Options {
    pub subscribers: String,
    pub feed: Option<&'static str>,
    pub behaviour: Behaviour,
    pub api_key: bool,
    pub smtp_args: Vec<String>,
    pub extra_config: String,
    pub model: String,
    pub batch_size: usize,
    pub concurrency: usize,
    /// Start Dovecot with these users and give paperboy an [imap] section (digest@lab.example.org).
    pub imap_users: Vec<&'static str>,
    /// Dovecot offers STARTTLS and implicit TLS with a certificate from a test CA; paperboy uses
    /// STARTTLS to "localhost" and trusts the CA through `ca_file`.
    pub imap_tls: bool,
    /// An `[embeddings]` section pointing at the stand-in's `/v1/embeddings`.
    pub embeddings: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            subscribers: TWO_SUBSCRIBERS.to_string(),
            feed: Some(FEED_DAY),
            behaviour: Behaviour::default(),
            api_key: true,
            smtp_args: Vec::new(),
            extra_config: String::new(),
            model: "gpt-4o-mini".into(),
            batch_size: 4,
            concurrency: 2,
            imap_users: Vec::new(),
            imap_tls: false,
            embeddings: false,
        }
    }
}

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub arxiv: MockServer,
    pub llm: LlmStandIn,
    /// Declared before `dir`'s drop matters: the sink is stopped when the app is dropped.
    pub smtp: Smtp,
    pub dovecot: Option<Dovecot>,
    pub config: PathBuf,
    pub api_key: bool,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl TestApp {
    pub async fn spawn(o: Options) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let arxiv = MockServer::start().await;
        if let Some(feed) = o.feed {
            Mock::given(method("GET"))
                .and(path(RSS_PATH))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_string(fixture(feed))
                        .insert_header("content-type", "application/rss+xml"),
                )
                .mount(&arxiv)
                .await;
        }
        let llm = LlmStandIn::start(o.behaviour).await;
        let dovecot = if o.imap_users.is_empty() {
            None
        } else {
            Some(Dovecot::start(dir.path(), &o.imap_users, o.imap_tls).await)
        };
        let mut smtp_args: Vec<String> = o.smtp_args.clone();
        let mut extra = o.extra_config.clone();
        if let Some(d) = &dovecot {
            smtp_args.extend([
                "--mailroot".to_string(),
                d.mailroot.display().to_string(),
                "--owner".into(),
                "dovecot".into(),
            ]);
            let security = match &d.tls {
                Some((_, ca)) => format!(
                    "host = \"localhost\"\nsecurity = \"starttls\"\nca_file = \"{}\"\n",
                    ca.display()
                ),
                None => "host = \"127.0.0.1\"\nsecurity = \"none\"\n".to_string(),
            };
            extra.push_str(&format!(
                "\n[imap]\n{security}port = {}\nusername = \"digest@lab.example.org\"\npassword_env = \"PAPERBOY_TEST_IMAP_PASSWORD\"\ntimeout_secs = 10\n",
                d.port
            ));
        }
        if o.embeddings {
            extra.push_str(&format!(
                "\n[embeddings]\nbase_url = \"{}/v1\"\nmodel = \"text-embedding-3-small\"\napi_key_env = \"PAPERBOY_TEST_API_KEY\"\nretry_base_ms = 50\ntimeout_secs = 10\n",
                llm.server.uri()
            ));
        }
        let smtp_args: Vec<&str> = smtp_args.iter().map(String::as_str).collect();
        let smtp = Smtp::start(dir.path(), &smtp_args).await;

        copy_dir(&repo().join("prompts"), &dir.path().join("prompts"));
        std::fs::write(dir.path().join("subscribers.toml"), &o.subscribers).unwrap();
        let config = dir.path().join("paperboy.toml");
        std::fs::write(
            &config,
            format!(
                r#"
subscribers = "subscribers.toml"
prompts = "prompts"
[arxiv]
rss_url = "{arxiv}/rss"
api_url = "{arxiv}/api/query"
min_interval_ms = 10
retry_base_ms = 50
max_attempts = 4
timeout_secs = 10
{llm_section}
[store]
path = "data/paperboy.db"
[schedule]
send_attempts = 3
send_retry_base_ms = 50
[mail]
from = "paperboy <digest@lab.example.org>"
transport = "smtp"
outbox = "outbox"
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
{extra}
"#,
                arxiv = arxiv.uri(),
                // Without a key the configuration asks for no model (keywords).
                llm_section = if o.api_key {
                    format!(
                        "[llm]\nbase_url = \"{}/v1\"\nmodel = \"{}\"\napi_key_env = \"PAPERBOY_TEST_API_KEY\"\nbatch_size = {}\nconcurrency = {}\nretry_base_ms = 50\ntimeout_secs = 10",
                        llm.server.uri(),
                        o.model,
                        o.batch_size,
                        o.concurrency
                    )
                } else {
                    String::new()
                },
                port = smtp.port,
                extra = extra,
            ),
        )
        .unwrap();
        TestApp {
            dir,
            arxiv,
            llm,
            smtp,
            dovecot,
            config,
            api_key: o.api_key,
        }
    }

    /// `paperboy --config <temp config> ARGS...` in the app's directory, with the test secrets and
    /// `env` on top.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
        self.command_of(env!("CARGO_BIN_EXE_paperboy"), args, env)
    }

    /// [`TestApp::command`] with another build of paperboy (an upgrade rehearsal's older one).
    pub fn command_of(
        &self,
        bin: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> tokio::process::Command {
        self.command_via(&[bin], args, env)
    }

    /// [`TestApp::command`] run through `wrapper` (a program and its arguments, paperboy after).
    pub fn command_via(
        &self,
        wrapper: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(wrapper[0]);
        cmd.args(&wrapper[1..]);
        if wrapper.len() > 1 {
            cmd.arg(env!("CARGO_BIN_EXE_paperboy"));
        }
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.dir.path());
        cmd.env_remove("OPENAI_API_KEY")
            .env("RUST_LOG", "paperboy=debug,warn");
        if self.api_key {
            cmd.env("PAPERBOY_TEST_API_KEY", "sk-test-0123456789");
        } else {
            cmd.env_remove("PAPERBOY_TEST_API_KEY");
        }
        cmd.env_remove("VISUAL")
            .env_remove("EDITOR")
            .env("PAPERBOY_TEST_IMAP_PASSWORD", IMAP_PASSWORD);
        cmd.envs(env.iter().copied());
        cmd
    }

    /// No model from now on: no key, and no `[llm]` section asking for one (keywords score).
    pub fn without_model(&mut self) {
        self.api_key = false;
        let text = std::fs::read_to_string(&self.config).unwrap();
        let start = text.find("[llm]\n").expect("an [llm] section");
        let end = text[start + 1..]
            .find("\n[")
            .map_or(text.len(), |i| start + 1 + i + 1);
        std::fs::write(&self.config, format!("{}{}", &text[..start], &text[end..])).unwrap();
    }

    /// Runs `paperboy --config <temp config> ARGS...`.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[]).await
    }

    pub async fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.finish(self.command(args, env), args).await
    }

    /// Runs another build of paperboy (`bin`) on this app.
    pub async fn run_of(&self, bin: &str, args: &[&str]) -> Run {
        self.finish(self.command_of(bin, args, &[]), args).await
    }

    async fn finish(&self, mut cmd: tokio::process::Command, args: &[&str]) -> Run {
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("paperboy finished in time")
            .unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "--- paperboy {args:?} exit {}\n{}\n{}",
            run.code, run.stdout, run.stderr
        );
        run
    }

    /// Starts `paperboy --config … ARGS` in the background (for the daemon).
    pub fn spawn_paperboy(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
        let mut cmd = self.command(args, env);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.spawn().expect("start paperboy")
    }

    /// A count from the database, 0 while the database does not exist yet.
    pub fn try_count(&self, sql: &str) -> i64 {
        let path = self.dir.path().join("data/paperboy.db");
        if !path.exists() {
            return 0;
        }
        rusqlite::Connection::open(path)
            .ok()
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)).ok())
            .unwrap_or(0)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("data/paperboy.db")).unwrap()
    }

    /// A reader's folder of the web archive (`[archive] dir = "archive"`), by its stored key.
    pub fn archive_dir(&self, email: &str) -> PathBuf {
        let key: String = self
            .db()
            .query_row(
                "SELECT key FROM archive_keys WHERE subscriber = ?1",
                [email],
                |r| r.get(0),
            )
            .unwrap();
        self.dir.path().join("archive").join(key)
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every stored triage decision (they are stored packed, a set per reader and run).
    pub fn triage(&self) -> Vec<paperboy::store::triage::Stored> {
        paperboy::store::triage::all(&self.db()).unwrap()
    }

    /// Received messages, parsed, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.smtp
            .messages()
            .into_iter()
            .map(Received::parse)
            .collect()
    }

    /// Stops the SMTP server (connections to its port are then refused).
    pub fn stop_smtp(&mut self) {
        let _ = self.smtp.child.kill();
        let _ = self.smtp.child.wait();
    }

    /// Starts the SMTP server again on the same port and Maildir.
    pub async fn restart_smtp(&mut self, extra: &[&str]) {
        self.stop_smtp();
        self.smtp = Smtp::start_on(self.smtp.port, self.dir.path(), extra).await;
    }

    pub fn received_by(&self, to: &str) -> Vec<Received> {
        self.received().into_iter().filter(|m| m.to == to).collect()
    }
}

/// A received message, parsed back with mail-parser.
pub struct Received {
    pub raw: Vec<u8>,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub content_type: String,
    /// MIME types of the body parts, in order.
    pub part_types: Vec<String>,
    pub reply_to: String,
    pub list_unsubscribe: String,
    pub in_reply_to: String,
}

impl Received {
    pub fn parse(raw: Vec<u8>) -> Received {
        let msg = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("a parseable message");
        let to = msg
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        let ct = msg
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
            .unwrap_or_default();
        let part_types = msg
            .parts
            .iter()
            .skip(1)
            .map(|p| {
                p.content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                    .unwrap_or_default()
            })
            .collect();
        Received {
            to,
            subject: msg.subject().unwrap_or_default().to_string(),
            message_id: msg.message_id().unwrap_or_default().to_string(),
            text: msg.body_text(0).unwrap_or_default().into_owned(),
            html: msg.body_html(0).unwrap_or_default().into_owned(),
            content_type: ct,
            part_types,
            reply_to: msg
                .reply_to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string(),
            list_unsubscribe: msg
                .header_raw("List-Unsubscribe")
                .unwrap_or_default()
                .trim()
                .to_string(),
            in_reply_to: msg.in_reply_to().as_text().unwrap_or_default().to_string(),
            raw,
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
