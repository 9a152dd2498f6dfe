//! Every model call goes through one metered path: the budget is reserved before the call and
//! its tokens land in `spend` after it — the run's triage and verdicts, and also `check` and a
//! library import, which are not runs.

use crate::helpers::*;

const NO_BUDGET: &str = "[budget]\ndaily_usd = 0.000001\n";

#[tokio::test]
async fn check_and_a_library_import_are_recorded_in_spend_by_stage() {
    let app = TestApp::spawn(Options::default()).await;
    let check = app.run(&["check"]).await;
    assert_eq!(check.code, 0, "{}", check.stdout);
    assert_eq!(
        app.count("SELECT count(*) FROM spend WHERE stage = 'check' AND prompt_tokens > 0"),
        1,
        "check's one request is in the ledger under its stage"
    );
    let bib = repo().join("tests/fixtures/library/ada-zotero.bib");
    let before = app.llm.requests();
    let import = app
        .run(&[
            "subscribers",
            "import-library",
            "ada@lab.example.org",
            bib.to_str().unwrap(),
            "--yes",
        ])
        .await;
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert_eq!(
        app.llm.requests(),
        before + 1,
        "the library is summed up once"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM spend WHERE stage = 'library' AND subscriber = 'ada@lab.example.org' AND prompt_tokens > 0"
        ),
        1,
        "the import's call is Ada's spend"
    );
}

#[tokio::test]
async fn with_the_budget_spent_neither_check_nor_an_import_calls_the_model() {
    let app = TestApp::spawn(Options {
        extra_config: NO_BUDGET.into(),
        ..Default::default()
    })
    .await;
    let check = app.run(&["check"]).await;
    assert_eq!(check.code, 1, "{}", check.stdout);
    let line = check
        .stdout
        .lines()
        .find(|l| l.contains(" model "))
        .unwrap_or_else(|| panic!("{}", check.stdout));
    assert!(
        line.starts_with("failed") && line.contains("daily budget"),
        "{line}"
    );
    let bib = repo().join("tests/fixtures/library/ada-zotero.bib");
    let import = app
        .run(&[
            "subscribers",
            "import-library",
            "ada@lab.example.org",
            bib.to_str().unwrap(),
            "--yes",
        ])
        .await;
    assert_eq!(
        import.code, 0,
        "the import still works, with keywords: {}",
        import.stderr
    );
    assert_eq!(app.llm.requests(), 0, "no call past the budget");
    assert_eq!(app.count("SELECT count(*) FROM spend"), 0);
    let file = std::fs::read_to_string(app.dir.path().join("subscribers.toml")).unwrap();
    assert!(file.contains("Jürgen Müller"), "{file}");
}
