//! The web archive: the seed pages, per reader. Static HTML under `[archive] dir`, written from
//! the pages stored with each delivery (never by scoring again):
//!
//! ```text
//! dir/index.html                         a neutral page (so no listing shows the readers' folders)
//! dir/<key>/index.html                   the reader's months
//! dir/<key>/2025-03/index.html           the month overview: days, paper counts, top papers
//! dir/<key>/2025-03/2025-03-28.html      the day, as the digest showed it
//! ```
//!
//! `<key>` is a random name per reader (a UUIDv4 as 32 hex digits: 122 random bits, kept in the
//! store), never their address; no page names another reader. Links are relative, so any static
//! web server serves the folder. Folders are 0711 (a web server can reach a page it is asked
//! for, no local user can list the readers' folders) and pages 0644.
//!
//! The key is a capability: `subscribers rotate-token` gives a new one (the folder moves, the
//! old address stops working) and `subscribers remove` deletes the folder.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{Datelike as _, NaiveDate};
use maud::{html, Markup};

use crate::digest::{self, ArchiveNav, Page, StoredPage};
use crate::domain::Subscriber;
use crate::domain::{Paper, PaperId};
use crate::store::Store;

/// A reader's day page, relative to their folder.
pub fn day_path(day: NaiveDate) -> String {
    format!("{}/{day}.html", month_of(day))
}

fn month_of(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// The web address of a reader's day page.
pub fn day_url(base_url: &str, key: &str, day: NaiveDate) -> String {
    format!("{}/{key}/{}", base_url.trim_end_matches('/'), day_path(day))
}

/// Where a reader's day page will be on the web, when `[archive] base_url` is set.
pub async fn url_for(
    config: &crate::config::Config,
    store: &Store,
    subscriber: &str,
    day: NaiveDate,
) -> anyhow::Result<Option<String>> {
    reader_url(config, store, subscriber, &day_path(day)).await
}

/// The web address of a reader's archive index, when `[archive] base_url` is set.
pub async fn index_url(
    config: &crate::config::Config,
    store: &Store,
    subscriber: &str,
) -> anyhow::Result<Option<String>> {
    reader_url(config, store, subscriber, "index.html").await
}

/// The web address of a reader's Atom feed, when `[archive] base_url` is set.
pub async fn feed_url(
    config: &crate::config::Config,
    store: &Store,
    subscriber: &str,
) -> anyhow::Result<Option<String>> {
    reader_url(config, store, subscriber, "feed.xml").await
}

/// `base_url/<the reader's key>/path`, or `None` without a base URL.
async fn reader_url(
    config: &crate::config::Config,
    store: &Store,
    subscriber: &str,
    path: &str,
) -> anyhow::Result<Option<String>> {
    let Some(base) = config.archive.as_ref().and_then(|a| a.base_url.clone()) else {
        return Ok(None);
    };
    let key = store.archive_key(subscriber).await?;
    Ok(Some(format!("{}/{key}/{path}", base.trim_end_matches('/'))))
}

/// What one update wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub days: usize,
    pub months: usize,
}

/// Writes the reader's pages that `changed` days touch: those days, the days before and after
/// them (their Previous/Next links), their months' overviews and the reader's index. `None`
/// writes every page (a rebuild).
pub async fn update(
    store: &Store,
    dir: &Path,
    base_url: Option<&str>,
    subscriber: &Subscriber,
    changed: Option<&[NaiveDate]>,
    reply: Option<crate::domain::ReplyAddresses>,
) -> anyhow::Result<Written> {
    let email = subscriber.email.to_string();
    let (key, days) = key_and_days(store, &email).await?;
    let wanted_days = days_to_write(&days, changed);
    let months: Vec<String> = {
        let mut m: Vec<String> = wanted_days.iter().map(|d| month_of(*d)).collect();
        m.dedup();
        m
    };
    let to_read = days_to_read(&days, &wanted_days, &months);
    let pages = read_pages(store, &email, to_read).await?;

    let dir = dir.to_path_buf();
    let sub = subscriber.clone();
    let base = base_url.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        write(
            &dir,
            base.as_deref(),
            &key,
            &sub,
            reply.as_ref(),
            &days,
            &wanted_days,
            &months,
            pages,
        )
    })
    .await
    .context("the archive writer stopped")?
}

/// The reader's archive key and the days they have stored pages for.
async fn key_and_days(store: &Store, email: &str) -> anyhow::Result<(String, Vec<NaiveDate>)> {
    store.archive_key_and_days(email).await
}

/// The day pages to write, sorted: every day (`changed` is `None`), or each changed stored day
/// with the stored days before and after it.
fn days_to_write(days: &[NaiveDate], changed: Option<&[NaiveDate]>) -> Vec<NaiveDate> {
    let mut wanted_days: Vec<NaiveDate> = match changed {
        None => days.to_vec(),
        Some(changed) => {
            let mut w = Vec::new();
            for d in changed {
                if let Ok(i) = days.binary_search(d) {
                    w.extend(&days[i.saturating_sub(1)..(i + 2).min(days.len())]);
                }
            }
            w
        }
    };
    wanted_days.sort();
    wanted_days.dedup();
    wanted_days
}

/// Pages to read: the wanted days, every day of the months to write, and the feed's days.
fn days_to_read(
    days: &[NaiveDate],
    wanted_days: &[NaiveDate],
    months: &[String],
) -> Vec<NaiveDate> {
    let feed_from = days
        .last()
        .map(|d| *d - chrono::Duration::days(FEED_DAYS))
        .unwrap_or_default();
    days.iter()
        .copied()
        .filter(|d| wanted_days.contains(d) || months.contains(&month_of(*d)) || *d > feed_from)
        .collect()
}

/// The reader's stored pages of `to_read` with their papers; an unreadable one is logged and
/// left out.
async fn read_pages(
    store: &Store,
    email: &str,
    to_read: Vec<NaiveDate>,
) -> anyhow::Result<BTreeMap<NaiveDate, Page>> {
    let e = email.to_string();
    let raw = store
        .call(move |c| {
            let mut out = Vec::new();
            for d in to_read {
                if let Some(json) = crate::store::archive::page(c, &e, d)? {
                    let page = serde_json::from_str::<StoredPage>(&json);
                    // A weekly digest, or papers owed from earlier days, span several days.
                    let papers: HashMap<PaperId, Paper> = match &page {
                        Ok(p) => crate::store::papers::by_ids(c, &p.paper_ids())?
                            .into_iter()
                            .map(|p| (p.id.clone(), p))
                            .collect(),
                        Err(_) => HashMap::new(),
                    };
                    out.push((d, page, papers));
                }
            }
            Ok(out)
        })
        .await?;
    let mut pages = BTreeMap::new();
    for (day, page, papers) in raw {
        match page {
            Ok(p) => {
                pages.insert(day, p.with_papers(&papers));
            }
            Err(e) => {
                tracing::error!(subscriber = %email, %day, error = %e, "a stored digest page is unreadable; its archive page is not written")
            }
        }
    }
    Ok(pages)
}

#[allow(clippy::too_many_arguments)]
fn write(
    dir: &Path,
    base_url: Option<&str>,
    key: &str,
    sub: &Subscriber,
    reply: Option<&crate::domain::ReplyAddresses>,
    days: &[NaiveDate],
    wanted_days: &[NaiveDate],
    months: &[String],
    pages: BTreeMap<NaiveDate, Page>,
) -> anyhow::Result<Written> {
    let root = dir.join(key);
    // Folders made by an older paperboy (0755) become 0711 too: no local user lists readers.
    make_dirs(&root)?;
    for folder in [dir, root.as_path()] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(DIR_MODE))
            .with_context(|| format!("cannot set the mode of {}", folder.display()))?;
    }
    write_file(
        &dir.join("index.html"),
        &digest::page_shell(
            "paperboy archive",
            None,
            html! { h1 { "paperboy archive" } p { "Each reader's digests are at their own address, linked from their digest." } },
        ),
    )?;
    let mut written = Written::default();
    for day in wanted_days {
        let Some(page) = pages.get(day) else { continue };
        let i = days
            .binary_search(day)
            .expect("wanted days are stored days");
        let link = |d: &NaiveDate| (format!("../{}", day_path(*d)), d.to_string());
        let nav = ArchiveNav {
            previous: i.checked_sub(1).map(|j| link(&days[j])),
            next: days.get(i + 1).map(link),
            month: ("index.html".into(), month_of(*day)),
            index: "../index.html".into(),
            feed: "../feed.xml".into(),
        };
        // The day's one-click links, as in its mail: more/less like this from the archive too.
        let mut d = page.clone().into_digest(sub.clone());
        d.reply = reply.cloned();
        write_file(
            &root.join(day_path(*day)),
            &digest::render_archive_day(&d, &nav),
        )?;
        written.days += 1;
    }
    let all_months: Vec<String> = {
        let mut m: Vec<String> = days.iter().map(|d| month_of(*d)).collect();
        m.dedup();
        m
    };
    for month in months {
        let i = all_months.binary_search(month).expect("a stored month");
        let in_month: Vec<(&NaiveDate, &Page)> = pages
            .iter()
            .filter(|(d, _)| &month_of(**d) == month)
            .collect();
        let markup = month_page(
            month,
            &in_month,
            i.checked_sub(1).map(|j| all_months[j].as_str()),
            all_months.get(i + 1).map(String::as_str),
        );
        write_file(
            &root.join(month).join("index.html"),
            &digest::page_shell(
                &format!("Monthly Overview {month}"),
                Some("../feed.xml"),
                markup,
            ),
        )?;
        written.months += 1;
    }
    let counts: Vec<(String, usize)> = all_months
        .iter()
        .map(|m| {
            let n = days.iter().filter(|d| &month_of(**d) == m).count();
            (m.clone(), n)
        })
        .collect();
    write_file(
        &root.join("index.html"),
        &digest::page_shell(
            "Your paper digests",
            Some("feed.xml"),
            index_page(&counts, days.last().copied()),
        ),
    )?;
    write_file(&root.join("feed.xml"), &feed(key, base_url, days, &pages))?;
    Ok(written)
}

/// Days of papers in a reader's Atom feed.
const FEED_DAYS: i64 = 30;

/// The reader's Atom feed (RFC 4287): an entry per paper of their last 30 days, the verdict and
/// comment as its summary. Only their own papers.
fn feed(
    key: &str,
    base_url: Option<&str>,
    days: &[NaiveDate],
    pages: &BTreeMap<NaiveDate, Page>,
) -> String {
    use atom_syndication::{Entry, Feed, FixedDateTime, Link, Person, Text};
    let at = |d: &NaiveDate| -> FixedDateTime {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .fixed_offset()
    };
    let self_href = base_url.map_or("feed.xml".to_string(), |b| {
        format!("{}/{key}/feed.xml", b.trim_end_matches('/'))
    });
    let latest = days.last().copied().unwrap_or_default();
    let from = latest - chrono::Duration::days(FEED_DAYS);
    let mut entries = Vec::new();
    for (day, page) in pages.iter().rev().filter(|(d, _)| **d > from) {
        let shown = page.entries.len() + page.more.len();
        for (rank, e) in page.entries.iter().chain(&page.more).enumerate() {
            let summary = match &e.verdict {
                None => format!("Author match: {}", e.followed.join(", ")),
                Some(v) => {
                    // The score as the digest shows it (one score wherever a paper is shown).
                    let mut s = format!("Score {}", e.score_label().unwrap_or_default());
                    if let Some(t) = &v.tldr {
                        s.push_str(&format!(". {}", crate::support::text::plain(t)));
                    }
                    if !v.comment.trim().is_empty() {
                        s.push_str(&format!(" — {}", crate::support::text::plain(&v.comment)));
                    }
                    s
                }
            };
            let mut link = Link::default();
            link.set_href(e.paper.abs_url());
            link.set_rel("alternate");
            let mut entry = Entry::default();
            entry.set_id(format!("urn:paperboy:{key}:{day}:{}", e.paper.id));
            entry.set_title(Text::plain(crate::support::tex::readable(&e.paper.title)));
            // Rank 1 is the day's latest second: readers sorting by date see the day's order.
            entry.set_updated(at(day) + chrono::Duration::seconds((shown - rank) as i64));
            entry.set_authors(
                e.paper
                    .authors
                    .iter()
                    .map(|a| Person {
                        name: crate::support::tex::to_unicode(a),
                        ..Default::default()
                    })
                    .collect::<Vec<_>>(),
            );
            entry.set_links(vec![link]);
            entry.set_summary(Some(Text::plain(summary)));
            entries.push(entry);
        }
    }
    let mut me = Link::default();
    me.set_href(self_href);
    me.set_rel("self");
    me.set_mime_type(Some("application/atom+xml".to_string()));
    let mut html = Link::default();
    html.set_href(base_url.map_or("index.html".to_string(), |b| {
        format!("{}/{key}/", b.trim_end_matches('/'))
    }));
    html.set_rel("alternate");
    html.set_mime_type(Some("text/html".to_string()));
    let mut feed = Feed::default();
    // RFC 4287 4.1.1: a feed whose entries may lack an author names one itself.
    feed.set_authors(vec![Person {
        name: "paperboy".to_string(),
        ..Default::default()
    }]);
    feed.set_id(format!("urn:paperboy:{key}"));
    feed.set_title(Text::plain("Your papers from paperboy"));
    feed.set_updated(at(&latest));
    feed.set_links(vec![me, html]);
    feed.set_entries(entries);
    // Whatever was stored, the document is XML: characters XML forbids (a control character in
    // a stored title or comment) never reach a feed reader.
    crate::support::text::clean(&feed.to_string()).into_owned()
}

/// Papers named per day in a month overview.
const TOP: usize = 3;

fn month_page(
    month: &str,
    days: &[(&NaiveDate, &Page)],
    previous: Option<&str>,
    next: Option<&str>,
) -> Markup {
    html! {
        p class="nav" {
            @if let Some(p) = previous { a href=(format!("../{p}/index.html")) { "← " (p) } }
            a href="../index.html" { "All months" }
            @if let Some(n) = next { a href=(format!("../{n}/index.html")) { (n) " →" } }
        }
        h1 { "Monthly Overview — " (month_label(month)) }
        p class="m" { (days.len()) " digest" @if days.len() != 1 { "s" } " this month, newest first." }
        @for (day, page) in days.iter().rev() {
            hr;
            h2 { a href=(format!("{day}.html")) { (day.format("%A, %-d %B %Y").to_string()) } }
            p class="m" {
                (page.entries.len() + page.more.len()) " relevant of " (page.scanned) " scanned"
                @if !page.unscored.is_empty() { ", " (page.unscored.len()) " not scored that day" }
            }
            @if !page.entries.is_empty() {
                ol {
                    @for (i, e) in page.entries.iter().take(TOP).enumerate() {
                        li {
                            a href=(format!("{day}.html#paper-{}", i + 1)) { (crate::support::tex::readable(&e.paper.title)) }
                            @if let Some(score) = e.score_label() { " " span class="m" { "· " (score) } }
                            @if e.author_match { " " span class="m" { "author match" } }
                        }
                    }
                }
                @let rest = page.entries.len() + page.more.len() - page.entries.len().min(TOP);
                @if rest > 0 {
                    p { a href=(format!("{day}.html")) { "…and " (rest) " more that day" } }
                }
            }
        }
    }
}

fn index_page(months: &[(String, usize)], latest: Option<NaiveDate>) -> Markup {
    html! {
        h1 { "Your paper digests" }
        @if let Some(day) = latest {
            p { a href=(day_path(day)) { "Latest digest: " (day.format("%A, %-d %B %Y").to_string()) } }
        }
        p class="m" { "By month, newest first." }
        ul {
            @for (m, n) in months.iter().rev() {
                li { a href=(format!("{m}/index.html")) { (month_label(m)) } " " span class="m" { (n) " day" @if *n != 1 { "s" } } }
            }
        }
    }
}

fn month_label(m: &str) -> String {
    NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
        .map(|d| format!("{} {}", d.format("%B"), d.year()))
        .unwrap_or_else(|_| m.to_string())
}

/// Folders: a web server may pass through, nobody but the owner may list.
const DIR_MODE: u32 = 0o711;
const PAGE_MODE: u32 = 0o644;

/// Creates `dir` and the folders above it that are missing, each 0711.
fn make_dirs(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("cannot create the archive folder {}", dir.display()))
}

/// Writes through a temporary file and a rename, so a web server never serves half a page; a
/// failed write leaves no temporary file behind.
fn write_file(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = path.parent().unwrap_or(Path::new("."));
    make_dirs(parent)?;
    let tmp: PathBuf = path.with_extension("html.tmp");
    let written = std::fs::write(&tmp, content)
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(PAGE_MODE)))
        .with_context(|| format!("cannot write the archive page {}", tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write the archive page {}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Whether `key` is a key paperboy made (32 hex digits): nothing else is joined to a path.
fn is_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `rotate-token`: the reader gets a new archive key and their folder moves to it; the old
/// address stops working. The new key, or `None` when they had no archive.
pub fn rekey(store: &Store, dir: &Path, email: &str) -> anyhow::Result<Option<String>> {
    let email = email.to_string();
    let Some((old, new)) = store.with(|c| crate::store::archive::rotate_key(c, &email))? else {
        return Ok(None);
    };
    let from = dir.join(&old);
    if is_key(&old) && from.is_dir() {
        std::fs::rename(&from, dir.join(&new)).with_context(|| {
            format!(
                "cannot move the archive folder {} to its new name",
                from.display()
            )
        })?;
    }
    Ok(Some(new))
}

/// `subscribers remove`: the reader's folder is deleted and their key forgotten. The number of
/// pages removed.
pub fn withdraw(store: &Store, dir: &Path, email: &str) -> anyhow::Result<usize> {
    let email = email.to_string();
    let Some(key) = store.with(|c| crate::store::archive::forget_key(c, &email))? else {
        return Ok(0);
    };
    let folder = dir.join(&key);
    if !is_key(&key) || !folder.is_dir() {
        return Ok(0);
    }
    let pages = count_pages(&folder);
    std::fs::remove_dir_all(&folder)
        .with_context(|| format!("cannot remove the archive folder {}", folder.display()))?;
    Ok(pages)
}

fn count_pages(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        count_pages(&p)
                    } else {
                        usize::from(p.extension().is_some_and(|x| x == "html"))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 7).unwrap();
        assert_eq!(day_path(d), "2025-03/2025-03-07.html");
        assert_eq!(
            day_url("https://lab.example.org/papers/", "abc", d),
            "https://lab.example.org/papers/abc/2025-03/2025-03-07.html"
        );
        assert_eq!(month_label("2025-03"), "March 2025");
    }
}
