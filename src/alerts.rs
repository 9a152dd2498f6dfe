//! Telling the admin: after a run that failed or degraded, one mail that says what happened and
//! what to do. A healthy run sends none.

use lettre::message::{header::ContentType, Mailbox};
use lettre::Message;

use crate::mail::outbound::new_message_id;
use crate::mail::Mailer;
use crate::pipeline::{App, RunReport};
use crate::store::runs::RunStatus;

/// What to do about a problem, judged from its text.
fn advice(problem: &str) -> &'static str {
    let p = problem.to_lowercase();
    if p.contains("rejected the api key") {
        "Renew the model API key (the environment variable named by [llm] api_key_env) and restart paperboy; the day's digests go out on the next run."
    } else if p.contains("quota") {
        "Add credit at the model provider or raise the limit there; the next run scores what is missing."
    } else if p.contains("budget") {
        "Raise [budget] daily_usd / monthly_usd in paperboy.toml if this was expected; otherwise nothing to do — scoring resumes when the budget allows."
    } else if p.contains("arxiv") {
        "arXiv could not be read. paperboy tries again at the next scheduled run and catches up the missed days; check the network if it persists."
    } else if p.contains("smtp") || p.contains("send") || p.contains("mail server") {
        "Check the mail server ([mail.smtp]); temporary failures are retried on the next run, addresses refused for good (5xx) need fixing in subscribers.toml."
    } else if p.contains("interrupted") {
        "paperboy stopped during the run; the next run finishes the day. Nothing to do unless it keeps happening."
    } else {
        "See `paperboy runs show` for the details."
    }
}

/// The alert for `report`, if it deserves one: (subject, body).
pub fn compose(report: &RunReport) -> Option<(String, String)> {
    let failing: Vec<String> = report
        .subscribers
        .iter()
        .filter(|s| s.failed() || s.outcome.status == "interrupted")
        .map(|s| {
            format!(
                "{}: {}",
                s.outcome.subscriber,
                s.outcome
                    .detail
                    .clone()
                    .unwrap_or_else(|| s.outcome.status.clone())
            )
        })
        .collect();
    if matches!(report.status, RunStatus::Ok | RunStatus::NoAnnouncement) && failing.is_empty() {
        return None;
    }
    let day = report.day.map_or("-".to_string(), |d| d.to_string());
    let subject = format!(
        "paperboy: the run for {day} {}",
        match report.status {
            RunStatus::Failed => "failed",
            _ => "needs attention",
        }
    );
    let mut body = format!(
        "Run {} for the announcement of {day} ended as `{}`.\n\n",
        report.run_id,
        report.status.as_str()
    );
    let mut problems: Vec<String> = Vec::new();
    if failing.is_empty() {
        if let Some(e) = &report.error {
            problems.push(e.clone());
        }
    }
    problems.extend(failing);
    body.push_str("What happened:\n");
    for p in &problems {
        body.push_str(&format!("  - {p}\n"));
    }
    let mut advices: Vec<&str> = problems.iter().map(|p| advice(p)).collect();
    advices.dedup();
    body.push_str("\nWhat to do:\n");
    for a in advices {
        body.push_str(&format!("  - {a}\n"));
    }
    body.push_str(&format!(
        "\nDetails: paperboy runs show {}\n",
        report.run_id
    ));
    Some((subject, body))
}

/// Sends the alert for `report` to `[admin] email`, if there is one and the run deserves it.
pub async fn after_run(app: &App, report: &RunReport) -> anyhow::Result<bool> {
    let Some(admin) = &app.config.admin.email else {
        return Ok(false);
    };
    let Some((subject, body)) = compose(report) else {
        return Ok(false);
    };
    let to: Mailbox = admin.parse()?;
    let message = Message::builder()
        .from(app.from.clone())
        .to(to.clone())
        .subject(subject)
        .message_id(Some(new_message_id(&app.from)))
        .date_now()
        .header(ContentType::TEXT_PLAIN)
        .body(body)?;
    let mailer = Mailer::from_config(&app.config, false)?;
    match mailer
        .send(&app.from.email, &to.email, &message.formatted())
        .await
    {
        Ok(_) => {
            tracing::info!(to = %to.email, run = report.run_id, "alert sent to the admin");
            Ok(true)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not send the alert to the admin");
            Ok(false)
        }
    }
}
