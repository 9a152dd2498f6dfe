//! A reader's library sent by reply: a `.bib` attached is read into a plan (what importing it
//! would change), and "yes" applies the latest plan.

use super::state::{numbered, topic_lines};
use super::templates::fill;
use super::{Analysis, Handling, Inbox, Outcome};
use crate::domain::Subscriber;
use crate::store::audit::Actor;
use crate::subscribers::admin::Change;

impl Inbox<'_> {
    /// A `.bib` attached to a reply: what importing it would change, to be applied on "yes".
    pub(super) async fn library_plan(
        &self,
        a: &Analysis,
        sub: &Subscriber,
        bib: &str,
    ) -> anyhow::Result<Handling> {
        use crate::subscribers::library;
        let who = Some(sub.email.to_string());
        let items = match library::read(bib.to_string()).await {
            Ok(items) => items,
            Err(why) => {
                let body = format!(
                    "Hello {},\n\nI could not read the attached library as BibTeX ({why}); nothing was changed.\nExport it from Zotero, Mendeley or JabRef as BibTeX (.bib) and send it again.\n",
                    sub.name
                );
                let answer = self.answer(a, sub, &body, true).await?;
                return Ok((
                    Outcome::Answered,
                    format!("unreadable library: {why}"),
                    who,
                    Some(answer),
                ));
            }
        };
        let proposal = library::propose(&items, sub);
        let plan = library::Plan {
            entries: items.len(),
            topics_line: library::keyword_line(&proposal),
            proposal,
            papers: library::papers(&items),
            replace_topics: None,
        };
        let json = serde_json::to_string(&plan)?;
        self.ctx
            .store
            .save_pending_library(&sub.email, &a.message_id, &json)
            .await?;
        let body = format!(
            "Hello {},\n\nFrom your library ({} entries) I would:\n{}\nReply \"yes\" to apply this (within a week); otherwise nothing changes.\n",
            sub.name,
            plan.entries,
            plan.describe()
        );
        let answer = self.answer(a, sub, &body, true).await?;
        Ok((
            Outcome::Answered,
            "library received; plan sent".into(),
            who,
            Some(answer),
        ))
    }

    /// "set topics:" by reply: every topic replaced only on the reader's "yes" (this answer
    /// goes to their own address), like a library import.
    pub(super) async fn topics_plan(
        &self,
        a: &Analysis,
        sub: &Subscriber,
        topics: Vec<String>,
    ) -> anyhow::Result<Handling> {
        let who = Some(sub.email.to_string());
        // The caps a reply's topics keep to, checked now rather than on "yes".
        if let Err(why) = super::state::State::of(sub)
            .apply(&crate::inbox::commands::Command::SetTopics(topics.clone()))
        {
            let body = format!(
                "Hello {},\n\nI cannot replace your topics: {why}. Nothing was changed.\n",
                sub.name
            );
            let answer = self.answer(a, sub, &body, true).await?;
            return Ok((
                Outcome::Answered,
                format!("set topics refused: {why}"),
                who,
                Some(answer),
            ));
        }
        let plan = crate::subscribers::library::Plan {
            replace_topics: Some(topics),
            ..Default::default()
        };
        self.ctx
            .store
            .save_pending_library(&sub.email, &a.message_id, &serde_json::to_string(&plan)?)
            .await?;
        let body = format!(
            "Hello {},\n\nYou asked me to {}\nYour {} topics now:\n{}\n\nReply \"yes\" to do it (within a week); until then nothing changes. Anything else in that mail was not applied: send it again on its own.\n",
            sub.name,
            plan.describe().trim_start(),
            topic_lines(&sub.topics).len(),
            numbered(&topic_lines(&sub.topics)),
        );
        let answer = self.answer(a, sub, &body, true).await?;
        Ok((
            Outcome::Answered,
            "replacing the topics waits for the reader's yes".into(),
            who,
            Some(answer),
        ))
    }

    /// "yes": applies the reader's latest library plan (sent within the last week).
    pub(super) async fn library_apply(
        &self,
        a: &Analysis,
        sub: &Subscriber,
    ) -> anyhow::Result<Handling> {
        use crate::subscribers::library::Plan;
        let who = Some(sub.email.to_string());
        let since = (self.ctx.clock.now() - chrono::Duration::days(7))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let pending = self
            .ctx
            .store
            .latest_pending_library(&sub.email, &since)
            .await?;
        let Some((row, json)) = pending else {
            let body = format!(
                "Hello {},\n\nThere is nothing waiting for a \"yes\". To import your library, reply to a digest with your .bib file attached.\n",
                sub.name
            );
            let answer = self.answer(a, sub, &body, true).await?;
            return Ok((
                Outcome::Answered,
                "yes, to nothing".into(),
                who,
                Some(answer),
            ));
        };
        let plan: Plan = serde_json::from_str(&json)?;
        let action = if plan.replace_topics.is_some() {
            "replace-topics"
        } else {
            "import-library"
        };
        let sets = plan.sets(sub);
        if !sets.is_empty() {
            self.subs.apply(
                self.ctx.store,
                &sub.email,
                Change::SetMany {
                    action: action.into(),
                    sets,
                },
                &Actor::Reply(a.message_id.clone()),
            )?;
        }
        let (e, ids, papers, today) = (
            sub.email.to_string(),
            plan.proposal.arxiv.clone(),
            plan.papers.clone(),
            self.ctx.clock.now().date_naive(),
        );
        let kept = self
            .ctx
            .store
            .call(move |c| {
                let tx = c.transaction()?;
                crate::store::deliveries::remember_known(&tx, &e, &ids, today)?;
                let kept = crate::store::library::remember_papers(&tx, &e, &papers, today)?;
                crate::store::library::mark_applied(&tx, row)?;
                tx.commit()?;
                Ok(kept)
            })
            .await?;
        let mut changes = plan.describe().trim_end().to_string();
        if let Some(note) = kept.note() {
            changes.push_str(&format!("\n- ({note})"));
        }
        let now = self.current(&sub.email)?.unwrap_or_else(|| sub.clone());
        let body = fill(
            &self.templates.confirmation,
            &[
                ("name", &now.name),
                ("changes", &changes),
                ("topics", &numbered(&topic_lines(&now.topics))),
            ],
        );
        let answer = self.answer(a, sub, &body, true).await?;
        Ok((Outcome::Applied, action.into(), who, Some(answer)))
    }
}
