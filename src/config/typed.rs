//! The configuration's text values parsed once: categories, announce types, addresses, the
//! schedule. Loading has checked them (with file, line and key); this reads what they mean.

use super::{schedule, Config};
use crate::domain::{AnnounceType, Category};

/// What the configuration's strings mean, parsed once.
#[derive(Debug, Clone)]
pub(super) struct Typed {
    pub(super) arxiv_categories: Vec<Category>,
    pub(super) categories: Vec<Category>,
    pub(super) announce_types: Vec<AnnounceType>,
    pub(super) from: Result<lettre::message::Mailbox, String>,
    pub(super) reply_address: Result<lettre::Address, String>,
    pub(super) admin: Option<lettre::Address>,
    pub(super) schedule: Result<schedule::Schedule, String>,
}

impl Config {
    pub(super) fn typed(&self) -> &Typed {
        self.typed.get_or_init(|| {
            let arxiv_categories: Vec<Category> = self
                .arxiv
                .categories
                .iter()
                .filter_map(|c| Category::parse(c).ok())
                .collect();
            let mut categories = arxiv_categories.clone();
            for (source, pre) in self.preprints() {
                categories.extend(
                    pre.categories
                        .iter()
                        .filter_map(|c| Category::subject(source, c).ok()),
                );
            }
            let from = self
                .mail
                .from
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| {
                    format!(
                        "`{}` is not a mail address ({e}); write e.g. \"paperboy <digest@lab.org>\"",
                        self.mail.from
                    )
                });
            let reply_address = match &self.mail.reply_to {
                Some(r) => r.trim().parse::<lettre::Address>().map_err(|e| {
                    format!("`{r}` is not a mail address ({e}); write e.g. \"digest@lab.org\"")
                }),
                None => from.clone().map(|m| m.email),
            };
            Typed {
                arxiv_categories,
                categories,
                announce_types: self
                    .arxiv
                    .announce_types
                    .iter()
                    .filter_map(|t| AnnounceType::parse(t))
                    .collect(),
                from,
                reply_address,
                admin: self.admin.email.as_deref().and_then(|a| a.trim().parse().ok()),
                schedule: schedule::Schedule::parse(&self.schedule.cron, &self.schedule.timezone),
            }
        })
    }
}
