//! What an authenticated reply asks for: its commands applied to the subscriber's entry (or
//! free text read by the model, within its bounds), `undo`, and the answer.

use anyhow::Context as _;
use chrono::NaiveDate;

use super::state::{fields_of, numbered, topic_lines, State};
use super::{Analysis, Handling, Inbox, Outcome};
use crate::domain::Subscriber;
use crate::domain::SubscriberEmail;
use crate::inbox::commands::{self, Command};
use crate::inbox::templates::fill;
use crate::scoring::Scorer;
use crate::store::audit::Actor;
use crate::store::inbox;
use crate::store::spend::{self, Stage};
use crate::subscribers::admin::Change;
use crate::subscribers::edit::FieldValue;

impl Inbox<'_> {
    pub(super) async fn apply(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
        digest_day: Option<NaiveDate>,
    ) -> anyhow::Result<Handling> {
        let who = Some(email.to_string());
        let mut parsed = a.parsed.clone();
        let Some(sub) = self.current(email)? else {
            if parsed.commands == vec![Command::Undo] {
                return self.undo(a, email, None).await;
            }
            return Ok((
                Outcome::Rejected,
                format!("{email} is not a subscriber (any more)"),
                who,
                None,
            ));
        };

        // Free text that is not a command: ask the model, when there is one.
        let interpreted = self.interpret_free_text(&sub, &mut parsed).await?;

        // A library attached: the plan is the answer; "yes" applies the latest one.
        if let Some(bib) = &a.library {
            return self.library_plan(a, &sub, bib).await;
        }
        if parsed.commands.contains(&Command::Yes) {
            return self.library_apply(a, &sub).await;
        }
        if parsed.commands.contains(&Command::Unsubscribe) {
            return self.unsubscribe(a, email).await;
        }
        if parsed.commands.contains(&Command::Undo) {
            return self.undo(a, email, Some(&sub)).await;
        }
        // Replacing every topic cuts a reader off from their papers: it waits for their "yes".
        if let Some(Command::SetTopics(topics)) = parsed
            .commands
            .iter()
            .find(|c| matches!(c, Command::SetTopics(_)))
        {
            return self.topics_plan(a, &sub, topics.clone()).await;
        }

        let mut st = State::of(&sub);
        let (mut notes, mut examples, want_help) = self
            .run_commands(email, digest_day, &parsed, &mut st)
            .await?;
        notes.extend(parsed.invalid.iter().cloned());
        let not_understood: Vec<String> = parsed
            .other
            .iter()
            .filter(|_| !interpreted)
            .cloned()
            .collect();

        let (changed, topics_now) = self
            .save(a, email, &sub, &parsed, &mut st, &mut examples, &mut notes)
            .await?;

        let teaching_only = parsed
            .commands
            .iter()
            .all(|c| matches!(c, Command::MoreLike(_) | Command::LessLike(_)));
        if teaching_only && !parsed.commands.is_empty() && !interpreted && not_understood.is_empty()
        {
            return self.taught(a, &sub, &notes, changed, &st).await;
        }
        let (outcome, body) = self.answer_text(
            &sub,
            interpreted,
            &notes,
            &not_understood,
            changed,
            &st,
            &topics_now,
            want_help,
        );
        let detail = if changed {
            st.changes.join("; ")
        } else {
            "answered without changes".to_string()
        };
        let answer = self.answer(a, &sub, &body, true).await?;
        Ok((outcome, detail, who, Some(answer)))
    }

    /// A reply that only taught ("more like 3", the one-click links): no mail back, the next
    /// digest says what was learned; a short answer only when something could not be done.
    async fn taught(
        &self,
        a: &Analysis,
        sub: &Subscriber,
        notes: &[String],
        changed: bool,
        st: &State,
    ) -> anyhow::Result<Handling> {
        let who = Some(sub.email.to_string());
        if notes.is_empty() && changed {
            let detail = format!("{}; the next digest says so", st.changes.join("; "));
            return Ok((Outcome::Applied, detail, who, None));
        }
        let mut body = format!("Hello {},\n\nCould not do:\n", sub.name);
        for n in notes {
            body.push_str(&format!("  - {n}\n"));
        }
        if changed {
            body.push_str("\nThe rest was taken; your next digest says what was learned.\n");
        }
        let outcome = if changed {
            Outcome::Applied
        } else {
            Outcome::Answered
        };
        let answer = self.answer(a, sub, &body, true).await?;
        Ok((outcome, notes.join("; "), who, Some(answer)))
    }

    /// Free text that is not a command, read by the model (when there is one) into commands
    /// that replace `parsed`'s; whether it found any.
    async fn interpret_free_text(
        &self,
        sub: &Subscriber,
        parsed: &mut commands::Parsed,
    ) -> anyhow::Result<bool> {
        if parsed.commands.is_empty() && !parsed.other.is_empty() {
            let read = self.interpret(sub, &parsed.other.join("\n")).await?;
            if let Err(why) = &read {
                parsed.invalid.push(why.clone());
            }
            if let Ok(Some(lines)) = read {
                let from_model = commands::parse(&lines.join("\n"));
                parsed.invalid.extend(
                    from_model
                        .invalid
                        .iter()
                        .map(|i| format!("{i} (suggested by the model)")),
                );
                parsed.invalid.extend(
                    from_model
                        .other
                        .iter()
                        .map(|i| format!("{i} (suggested by the model, not a command)")),
                );
                let interpreted = !from_model.commands.is_empty();
                parsed.commands = from_model.commands;
                return Ok(interpreted);
            }
        }
        Ok(false)
    }

    /// Applies `parsed`'s commands to `st`: (notes on what could not be done, the example
    /// papers asked for, whether help was asked for).
    async fn run_commands(
        &self,
        email: &SubscriberEmail,
        digest_day: Option<NaiveDate>,
        parsed: &commands::Parsed,
        st: &mut State,
    ) -> anyhow::Result<(Vec<String>, Vec<inbox::Example>, bool)> {
        let mut notes = Vec::new();
        let mut examples = Vec::new();
        let mut want_help = parsed.commands.is_empty() || parsed.commands.contains(&Command::Help);
        for c in &parsed.commands {
            match c {
                Command::MoreLike(n) | Command::LessLike(n) => {
                    let more = matches!(c, Command::MoreLike(_));
                    match self.paper_in_digest(email, digest_day, n).await? {
                        Ok(ex) => {
                            st.changes.push(format!(
                                "{} papers like {n}. {}",
                                if more { "more" } else { "fewer" },
                                ex.1
                            ));
                            examples.push(inbox::Example {
                                paper_id: ex.0,
                                more,
                                title: ex.1,
                            });
                        }
                        Err(why) => notes.push(format!("{c}: {why}")),
                    }
                }
                Command::Help | Command::ListTopics => want_help |= matches!(c, Command::Help),
                other => {
                    if let Err(why) = st.apply(other) {
                        notes.push(format!("{c}: {why}"));
                    }
                }
            }
        }
        Ok((notes, examples, want_help))
    }

    /// Writes what the commands changed (the subscribers file, the example papers): (whether
    /// anything changed, the topics as they are now). A file that refuses the change keeps
    /// everything as it was and says why in `notes`.
    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
        sub: &Subscriber,
        parsed: &commands::Parsed,
        st: &mut State,
        examples: &mut Vec<inbox::Example>,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<(bool, String)> {
        let actor = Actor::Reply(a.message_id.clone());
        let sets = st.sets(sub);
        let mut changed = !examples.is_empty();
        let mut topics_now = numbered(&st.topics);
        if !sets.is_empty() {
            let action = format!(
                "reply: {}",
                parsed
                    .commands
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            match self.subs.apply(
                self.ctx.store,
                email,
                Change::SetMany { action, sets },
                &actor,
            ) {
                Ok(applied) => {
                    changed |= applied.changed;
                    if let Some(after) = applied.after {
                        topics_now = numbered(&topic_lines(&after.topics));
                    }
                }
                Err(e) => {
                    notes.push(format!(
                        "nothing was changed: {}",
                        e.to_string().lines().last().unwrap_or("").trim()
                    ));
                    st.changes.clear();
                    examples.clear();
                    changed = false;
                }
            }
        }
        let mut let_go = 0;
        for ex in examples.iter() {
            let_go += self
                .ctx
                .store
                .add_example(email, ex, &a.message_id)
                .await?
                .len();
        }
        if let_go > 0 {
            notes.push(format!(
                "paperboy keeps your newest {} \"more/less like\" examples: the {let_go} oldest no longer count",
                crate::store::inbox::MAX_EXAMPLES
            ));
        }
        Ok((changed, topics_now))
    }

    /// The answer to a reply: what changed (the confirmation), or help, or the topics, with
    /// what could not be done and what was not understood.
    #[allow(clippy::too_many_arguments)]
    fn answer_text(
        &self,
        sub: &Subscriber,
        interpreted: bool,
        notes: &[String],
        not_understood: &[String],
        changed: bool,
        st: &State,
        topics_now: &str,
        want_help: bool,
    ) -> (Outcome, String) {
        let mut extra = String::new();
        if interpreted {
            extra.push_str("\n(I read your message as the commands above.)\n");
        }
        if !notes.is_empty() {
            extra.push_str("\nCould not do:\n");
            for n in notes {
                extra.push_str(&format!("  - {n}\n"));
            }
        }
        if !not_understood.is_empty() && !changed {
            extra.push_str("\nI did not understand:\n");
            for n in not_understood {
                extra.push_str(&format!("  > {n}\n"));
            }
        }
        if changed {
            let lines: Vec<String> = st.changes.iter().map(|c| format!("  - {c}")).collect();
            let body = fill(
                &self.templates.confirmation,
                &[
                    ("name", &sub.name),
                    ("changes", &lines.join("\n")),
                    ("topics", topics_now),
                ],
            );
            (Outcome::Applied, format!("{}{extra}", body.trim_end()))
        } else if want_help || !notes.is_empty() || !not_understood.is_empty() {
            let body = fill(
                &self.templates.help,
                &[("name", &sub.name), ("topics", topics_now)],
            );
            (Outcome::Answered, format!("{}\n{extra}", body.trim_end()))
        } else {
            // Only "topics": the list is the answer.
            let body = format!(
                "Hello {},\n\nYour topics now:\n{topics_now}\n\nReply \"remove topic: N\" to drop one, or \"help\" for every command.\n",
                sub.name
            );
            (Outcome::Answered, body)
        }
    }

    /// Reverts the last change a reply from `email` made (subscribers file and examples).
    pub(super) async fn undo(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
        current: Option<&Subscriber>,
    ) -> anyhow::Result<Handling> {
        let who = Some(email.to_string());
        let Some(last) = self.ctx.store.last_changing_reply(email).await? else {
            return match current {
                Some(sub) => {
                    let body = format!("Hello {},\n\nThere is nothing to undo.\n", sub.name);
                    let answer = self.answer(a, sub, &body, true).await?;
                    Ok((
                        Outcome::Answered,
                        "nothing to undo".into(),
                        who,
                        Some(answer),
                    ))
                }
                None => Ok((
                    Outcome::Rejected,
                    format!("{email} is not a subscriber and has nothing to undo"),
                    who,
                    None,
                )),
            };
        };
        // The last change was itself an undo: undoing it would re-apply what was reverted.
        if self.ctx.store.was_undo(&last).await? {
            if let Some(sub) = current {
                let body = format!(
                    "Hello {},\n\nYour last change was an undo; it cannot be undone by reply. Write the command you want instead (reply \"help\" for the list).\n",
                    sub.name
                );
                let answer = self.answer(a, sub, &body, true).await?;
                return Ok((
                    Outcome::Answered,
                    "undo of an undo refused".into(),
                    who,
                    Some(answer),
                ));
            }
            return Ok((
                Outcome::Rejected,
                "undo of an undo refused".into(),
                who,
                None,
            ));
        }
        let what = self.revert(a, email, last).await?;
        let sub = self.current(email)?.context("the subscriber after undo")?;
        let lines: Vec<String> = what.iter().map(|w| format!("  - {w}")).collect();
        let body = fill(
            &self.templates.confirmation,
            &[
                ("name", &sub.name),
                ("changes", &lines.join("\n")),
                ("topics", &numbered(&topic_lines(&sub.topics))),
            ],
        );
        let answer = self.answer(a, &sub, &body, true).await?;
        Ok((
            Outcome::Undid,
            format!("undo: {}", what.join("; ")),
            who,
            Some(answer),
        ))
    }

    /// Reverts the reply `last`: the subscribers file as it was before it, its example papers
    /// forgotten, the reply marked undone. Returns what was reverted, for the answer.
    async fn revert(
        &self,
        a: &Analysis,
        email: &SubscriberEmail,
        last: String,
    ) -> anyhow::Result<Vec<String>> {
        let rows = self.ctx.store.audit_history(email).await?;
        let row = rows
            .into_iter()
            .rev()
            .find(|r| r.actor == "reply" && r.detail.as_deref() == Some(last.as_str()));
        let actor = Actor::Reply(a.message_id.clone());
        let mut what = Vec::new();
        if let Some(row) = row {
            let change = match (&row.before, &row.after) {
                (Some(before), None) => Some(Change::Add(fields_of(before, None))),
                (Some(before), Some(after)) => {
                    let sets: Vec<(String, FieldValue)> = fields_of(before, Some(after))
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                    (!sets.is_empty()).then(|| Change::SetMany {
                        action: "undo".into(),
                        sets,
                    })
                }
                _ => None,
            };
            if let Some(change) = change {
                self.subs.apply(self.ctx.store, email, change, &actor)?;
                what.push(format!(
                    "reverted: {}",
                    row.action.trim_start_matches("reply: ")
                ));
            }
        }
        let removed = self.ctx.store.remove_examples_of(email, &last).await?;
        if removed > 0 {
            what.push(format!("forgot {removed} example paper(s)"));
        }
        self.ctx.store.mark_undone(&last).await?;
        Ok(what)
    }

    /// The paper numbered `n` in the digest replied to (or the latest one sent).
    async fn paper_in_digest(
        &self,
        email: &SubscriberEmail,
        day: Option<NaiveDate>,
        target: &commands::PaperRef,
    ) -> anyhow::Result<Result<(String, String), String>> {
        let n = match target {
            commands::PaperRef::Number(n) => *n,
            commands::PaperRef::Id(id) => {
                // A card's link names the paper: it must be one paperboy has seen.
                let found = self.ctx.store.papers_by_ids(vec![id.clone()]).await?;
                return Ok(match found.into_iter().next() {
                    Some(p) => Ok((p.id.to_string(), p.title)),
                    None => Err(format!("{id} is not a paper from your digests")),
                });
            }
        };
        let d = self.ctx.store.delivery_or_latest(email, day).await?;
        let Some(d) = d else {
            return Ok(Err("there is no digest to take the number from".into()));
        };
        let Some(id) = d.paper_ids.get(n.wrapping_sub(1)).cloned() else {
            return Ok(Err(format!(
                "the digest of {} has {} papers",
                d.day,
                d.paper_ids.len()
            )));
        };
        let day = d.day;
        let title = self
            .ctx
            .store
            .announced_papers(day)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .map(|p| p.title)
            .unwrap_or_else(|| id.to_string());
        Ok(Ok((id.to_string(), title)))
    }

    /// Free text → commands, by the model (structured output): `Ok(None)` without a model,
    /// `Err(why)` when the reader's daily share or the replies' budget is used up (the answer
    /// then says so politely). The call is reserved in `[budget]` like any other.
    async fn interpret(
        &self,
        sub: &Subscriber,
        text: &str,
    ) -> anyhow::Result<Result<Option<Vec<String>>, String>> {
        let Scorer::Llm(llm) = &self.ctx.scorer else {
            return Ok(Ok(None));
        };
        let now = self.ctx.clock.now();
        let limit = self
            .ctx
            .config
            .imap
            .as_ref()
            .map_or(10, |i| i.model_replies_per_day);
        let (read_today, replies_spent) = self
            .ctx
            .store
            .stage_on_day(Stage::Reply, &sub.email, now.date_naive())
            .await?;
        if read_today >= i64::from(limit) {
            return Ok(Err(format!(
                "I read free text with the model at most {limit} times a day; please write one of the commands below"
            )));
        }
        // The worst this call can cost: a short prompt and a short answer.
        let meter = &llm.meter;
        let worst = meter.worst_cost(text.len() + 4000, 1000);
        if let Some(cap) = self.ctx.config.replies_budget() {
            if crate::domain::Money::from_micros(replies_spent) + worst > cap {
                tracing::warn!(%cap, "the day's budget for reading replies is used up");
                return Ok(Err(
                    "I cannot read free text today; please write one of the commands below".into(),
                ));
            }
        }
        // A stale override is the admin's to fix; found before anything is reserved.
        let prompt = crate::scoring::prompt::reply_prompt(
            &self.ctx.config.resolve(&self.ctx.config.prompts),
        )?;
        let reserved = match meter.reserve(self.ctx.store, now, worst).await? {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(%why, "no budget left to read a free-text reply");
                return Ok(Err(
                    "I cannot read free text today; please write one of the commands below".into(),
                ));
            }
        };

        let answer = meter
            .commands(
                &reserved,
                &prompt,
                &format!("Current topics:\n{}\n\nMessage:\n{text}", sub.topics),
            )
            .await;
        let result = match answer {
            Ok((lines, usage)) => {
                if usage.is_some() {
                    let row = spend::SpendRow {
                        subscriber: Some(sub.email.to_string()),
                        ..meter.spend_row(usage, Stage::Reply)
                    };
                    let recorded = self.ctx.store.record_spend(row).await;
                    if let Err(e) = recorded {
                        meter.release(reserved).await;
                        return Err(e);
                    }
                }
                Ok(Ok(Some(lines)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "the model could not read a free-text reply; answering with help");
                Ok(Ok(None))
            }
        };
        meter.release(reserved).await;
        result
    }
}
