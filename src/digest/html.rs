use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::Digest;
use crate::domain::thousands;

const FONT: &str =
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;";

/// The HTML view: inline styles only (mail clients drop `<style>`), one column of at most 600px
/// that narrows on a phone. maud escapes every interpolated string.
pub fn render_html(d: &Digest) -> String {
    let sub = &d.subscriber;
    let cell = "padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:right;";
    let head = "padding:4px 8px;border-bottom:2px solid #d1d5db;text-align:right;font-weight:600;";
    let markup: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (d.subject()) }
            }
            body style=(format!("margin:0;padding:0;background:#f3f4f6;{FONT}")) {
                div style="max-width:600px;margin:0 auto;padding:16px;background:#ffffff;color:#111827;line-height:1.5;font-size:15px;" {
                    h1 style="font-size:22px;margin:0 0 4px 0;" { (d.heading()) }
                    p style="margin:0 0 16px 0;color:#6b7280;font-size:13px;" { "for " (sub.name) " <" (sub.email.as_str()) ">" }
                    @if let Some(status) = d.status_line() {
                        p style=(if d.unscored.is_empty() { "padding:10px 12px;background:#eff6ff;border-left:4px solid #3b82f6;" } else { "padding:10px 12px;background:#fef2f2;border-left:4px solid #dc2626;" }) { (status) }
                    }
                    @if let Some(note) = d.scorer_note() {
                        p style="padding:10px 12px;background:#fffbeb;border-left:4px solid #f59e0b;font-size:13px;" { (note) }
                    }
                    @if !d.usage.is_empty() {
                        table style="border-collapse:collapse;font-size:13px;margin:8px 0 16px 0;width:100%;" role="presentation" {
                            tr {
                                th style=(format!("{head}text-align:left;")) { "Model" }
                                th style=(head) { "Prompt" }
                                th style=(head) { "Completion" }
                                th style=(head) { "Total" }
                                th style=(head) { "Cost" }
                            }
                            @for u in &d.usage {
                                tr {
                                    td style=(format!("{cell}text-align:left;")) { (u.model) }
                                    td style=(cell) { (thousands(u.prompt_tokens)) }
                                    td style=(cell) { (thousands(u.completion_tokens)) }
                                    td style=(cell) { (thousands(u.prompt_tokens + u.completion_tokens)) }
                                    td style=(cell) { (u.cost.with_unknown(u.unpriced_calls, u.calls)) }
                                }
                            }
                        }
                    }
                    p style="margin:0 0 16px 0;" {
                        "Total arXiv papers: " strong { (d.total_papers) } br;
                        "Total scanned papers: " strong { (d.scanned) } br;
                        "Total relevant papers: " strong { (d.entries.len()) }
                        @if !d.unscored.is_empty() {
                            br; span style="color:#dc2626;" { "Papers that could not be scored: " strong { (d.unscored.len()) } }
                        }
                    }
                    @if !d.entries.is_empty() {
                        h2 style="font-size:17px;margin:24px 0 8px 0;" { "Contents" }
                        ol style="padding-left:24px;margin:0;" {
                            @for (i, e) in d.entries.iter().enumerate() {
                                li style="margin-bottom:8px;" {
                                    a href=(format!("#paper-{}", i + 1)) style="color:#1d4ed8;text-decoration:none;" { (e.paper.title) }
                                    br;
                                    span style="color:#6b7280;font-size:13px;" { (e.paper.authors.join(", ")) }
                                }
                            }
                        }
                        @for (i, e) in d.entries.iter().enumerate() {
                            hr style="border:none;border-top:1px solid #e5e7eb;margin:24px 0;";
                            h2 id=(format!("paper-{}", i + 1)) style="font-size:17px;margin:0 0 8px 0;" {
                                (i + 1) ". "
                                a href=(e.paper.abs_url()) style="color:#1d4ed8;" { (e.paper.title) }
                            }
                            p style="margin:0 0 8px 0;font-size:13px;color:#374151;" {
                                strong { "arXiv ID: " } a href=(e.paper.abs_url()) style="color:#1d4ed8;" { (e.paper.id.as_str()) }
                                br;
                                strong { "Authors: " } (e.paper.authors.join(", "))
                            }
                            p style="margin:0 0 8px 0;" { strong { "Abstract: " } (e.paper.abstract_text) }
                            @match &e.verdict {
                                None => {
                                    p style="margin:0;" { strong { "Comment: " } span style="background:#dcfce7;padding:1px 6px;border-radius:4px;" { "Author match" } }
                                }
                                Some(v) => {
                                    p style="margin:0 0 4px 0;" { strong { "Comment: " } (v.comment) }
                                    p style="margin:0;" {
                                        strong { "Relevance: " } (v.relevance)
                                        (PreEscaped("&nbsp;&nbsp;&nbsp;"))
                                        strong { "Novelty: " }
                                        @match v.novelty { Some(n) => (n), None => "not assessed" }
                                    }
                                }
                            }
                        }
                    }
                    @if !d.unscored.is_empty() {
                        hr style="border:none;border-top:1px solid #e5e7eb;margin:24px 0;";
                        h2 style="font-size:17px;margin:0 0 8px 0;color:#dc2626;" { "Could not be scored (" (d.unscored.len()) ")" }
                        ul style="padding-left:20px;margin:0 0 8px 0;" {
                            @for u in &d.unscored {
                                li { a href=(u.paper.abs_url()) style="color:#1d4ed8;" { (u.paper.title) } }
                            }
                        }
                        @let reasons = {
                            let mut r: Vec<&str> = d.unscored.iter().map(|u| u.reason.as_str()).collect();
                            r.sort();
                            r.dedup();
                            r
                        };
                        @for r in reasons {
                            p style="margin:0 0 4px 0;font-size:13px;color:#6b7280;" { "Why: " (r) }
                        }
                    }
                    hr style="border:none;border-top:1px solid #e5e7eb;margin:24px 0;";
                    div style="font-size:13px;color:#4b5563;" {
                        p style="margin:0 0 4px 0;font-weight:600;" { "Your selection" }
                        @if !sub.topics.is_empty() {
                            p style="margin:0 0 8px 0;white-space:pre-wrap;" { (sub.topics) }
                        }
                        @if !sub.authors.is_empty() {
                            p style="margin:0 0 4px 0;" { "Authors you follow: " (sub.authors.join(", ")) }
                        }
                        @if !sub.keywords.is_empty() {
                            p style="margin:0 0 4px 0;" { "Keywords: " (sub.keywords.join(", ")) }
                        }
                        p style="margin:0 0 4px 0;" {
                            "Thresholds: relevance ≥ " (sub.min_relevance) ", novelty ≥ " (sub.min_novelty)
                            ", at most " (sub.max_papers) " papers"
                        }
                        p style="margin:0 0 8px 0;" { "Scored by: " (d.scorer) }
                        @for line in d.how_to_change() {
                            p style="margin:0 0 4px 0;" { (line) }
                        }
                    }
                }
            }
        }
    };
    markup.into_string()
}
