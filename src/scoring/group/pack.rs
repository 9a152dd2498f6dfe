//! Packing (paper, reader) pairs into calls that fit the window. Verdict calls are packed by
//! reader: a call takes readers whose papers are mostly already in it, so each abstract is sent
//! as few times as possible and each profile about once. Title triage calls take the day's
//! titles with as many readers' topics as fit. Any chunk can be halved (by readers, then by
//! papers) when it turns out not to fit after all.

use std::collections::{BTreeSet, HashMap};

use super::window::MAX_ANSWER;
use super::Chunk;
use crate::domain::{Paper, PaperId};

/// What the packing measures a prompt by, in bytes.
pub(super) struct Sizes<'a> {
    /// Each reader's topics, as the system prompt writes them.
    pub profile: &'a [usize],
    /// The instructions and framing every call carries.
    pub base: usize,
    /// Estimated tokens a prompt and its answer may take (the window's bound).
    pub limit_tokens: u64,
}

impl Sizes<'_> {
    /// Bytes a prompt may take when its answer needs `answer` tokens (3 bytes a token).
    fn budget(&self, answer: u64) -> usize {
        (self
            .limit_tokens
            .saturating_sub(answer.min(MAX_ANSWER) + 64)
            * 3) as usize
    }
}

/// A paper as a verdict prompt writes it.
fn abstract_bytes(p: &Paper) -> usize {
    p.id.as_str().len() + p.title.len() + p.abstract_text.len() + 64
}

/// A paper as a triage prompt writes it.
fn title_bytes(p: &Paper) -> usize {
    p.id.as_str().len() + p.title.len() + 4
}

/// One reader's share of a verdict call: some or all of its papers (indices into the universe).
struct Part {
    reader: usize,
    papers: Vec<usize>,
    bits: Vec<u64>,
}

fn bits_of(papers: &[usize], words: usize) -> Vec<u64> {
    let mut bits = vec![0u64; words];
    for &i in papers {
        bits[i / 64] |= 1 << (i % 64);
    }
    bits
}

fn has(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// The verdict calls for `pending` (each reader's papers): at most `max_papers` papers and
/// `max_pairs` pairs a call, within the window.
pub(super) fn verdict_chunks<'p>(
    pending: &[Vec<&'p Paper>],
    sizes: &Sizes<'_>,
    max_papers: usize,
    max_pairs: usize,
) -> Vec<Chunk<'p>> {
    let mut universe: Vec<&'p Paper> = Vec::new();
    let mut index: HashMap<&PaperId, usize> = HashMap::new();
    let mut parts: Vec<Part> = Vec::new();
    let cap = max_papers.min(max_pairs).max(1);
    let budget = sizes.budget(60 * max_pairs as u64 + 30 * max_papers as u64 + 100);
    for (r, papers) in pending.iter().enumerate() {
        let mut mine: Vec<usize> = Vec::new();
        for p in papers {
            let i = *index.entry(&p.id).or_insert_with(|| {
                universe.push(p);
                universe.len() - 1
            });
            mine.push(i);
        }
        // A reader with more papers than a call holds is spread over several parts.
        let mut part: Vec<usize> = Vec::new();
        let mut bytes = sizes.base + sizes.profile[r];
        for i in mine {
            let b = abstract_bytes(universe[i]);
            if !part.is_empty() && (part.len() >= cap || bytes + b > budget) {
                parts.push(Part {
                    reader: r,
                    papers: std::mem::take(&mut part),
                    bits: Vec::new(),
                });
                bytes = sizes.base + sizes.profile[r];
            }
            bytes += b;
            part.push(i);
        }
        if !part.is_empty() {
            parts.push(Part {
                reader: r,
                papers: part,
                bits: Vec::new(),
            });
        }
    }
    let words = universe.len().div_ceil(64).max(1);
    for p in &mut parts {
        p.bits = bits_of(&p.papers, words);
    }
    // Largest first: they anchor calls, the small ones fill them.
    parts.sort_by_key(|p| (std::cmp::Reverse(p.papers.len()), p.reader));
    let mut left: std::collections::VecDeque<Part> = parts.into();
    let mut chunks = Vec::new();
    while let Some(first) = left.pop_front() {
        let mut union = first.bits.clone();
        let mut count = first.papers.len();
        let mut pairs = first.papers.len();
        let mut bytes = sizes.base
            + sizes.profile[first.reader]
            + first
                .papers
                .iter()
                .map(|&i| abstract_bytes(universe[i]))
                .sum::<usize>();
        let mut members = vec![first];
        loop {
            let mut best: Option<(i64, usize, usize, usize)> = None;
            for (k, p) in left.iter().enumerate() {
                if pairs + p.papers.len() > max_pairs {
                    continue;
                }
                let shared: usize = p
                    .bits
                    .iter()
                    .zip(&union)
                    .map(|(a, b)| (a & b).count_ones() as usize)
                    .sum();
                let new = p.papers.len() - shared;
                if count + new > max_papers {
                    continue;
                }
                let add: usize = sizes.profile[p.reader]
                    + p.papers
                        .iter()
                        .filter(|&&i| !has(&union, i))
                        .map(|&i| abstract_bytes(universe[i]))
                        .sum::<usize>();
                if bytes + add > budget {
                    continue;
                }
                let score = 2 * shared as i64 - p.papers.len() as i64;
                if best.is_none_or(|(s, sh, _, _)| (score, shared) > (s, sh)) {
                    best = Some((score, shared, k, add));
                }
            }
            let Some((_, shared, k, add)) = best else {
                break;
            };
            let p = left.remove(k).expect("an index from the scan");
            count += p.papers.len() - shared;
            pairs += p.papers.len();
            bytes += add;
            for (u, b) in union.iter_mut().zip(&p.bits) {
                *u |= b;
            }
            members.push(p);
        }
        chunks.push(chunk_of(&universe, &members));
    }
    chunks
}

/// The papers of `members`, in the universe's order, each with its readers.
fn chunk_of<'p>(universe: &[&'p Paper], members: &[Part]) -> Chunk<'p> {
    let mut by_paper: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for m in members {
        for &i in &m.papers {
            by_paper.entry(i).or_default().push(m.reader);
        }
    }
    by_paper
        .into_iter()
        .map(|(i, mut rs)| {
            rs.sort_unstable();
            rs.dedup();
            (universe[i], rs)
        })
        .collect()
}

/// The triage calls for `ask` (papers with the readers to triage them for): `batch` titles a
/// call, with as many readers as fit the window beside them.
pub(super) fn triage_chunks<'p>(ask: Chunk<'p>, sizes: &Sizes<'_>, batch: usize) -> Vec<Chunk<'p>> {
    let mut out = Vec::new();
    for papers in ask.chunks(batch.max(1)) {
        let titles: usize = papers.iter().map(|(p, _)| title_bytes(p)).sum();
        let mut count: HashMap<usize, usize> = HashMap::new();
        for (_, rs) in papers {
            for &r in rs {
                *count.entry(r).or_default() += 1;
            }
        }
        let readers: BTreeSet<usize> = count.keys().copied().collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group: Vec<usize> = Vec::new();
        let (mut bytes, mut pairs) = (sizes.base + titles, 0usize);
        for r in readers {
            let answer = |pairs: usize| triage_answer(papers.len(), pairs);
            let more = bytes + sizes.profile[r];
            if !group.is_empty() && more > sizes.budget(answer(pairs + count[&r])) {
                groups.push(std::mem::take(&mut group));
                bytes = sizes.base + titles;
                pairs = 0;
            }
            bytes += sizes.profile[r];
            pairs += count[&r];
            group.push(r);
        }
        if !group.is_empty() {
            groups.push(group);
        }
        for g in groups {
            let g: BTreeSet<usize> = g.into_iter().collect();
            let chunk: Chunk = papers
                .iter()
                .map(|(p, rs)| (*p, rs.iter().copied().filter(|r| g.contains(r)).collect()))
                .filter(|(_, rs): &(&Paper, Vec<usize>)| !rs.is_empty())
                .collect();
            if !chunk.is_empty() {
                out.push(chunk);
            }
        }
    }
    out
}

/// The longest triage answer for `papers` titles and `pairs` (paper, reader) pairs, in tokens.
pub(super) fn triage_answer(papers: usize, pairs: usize) -> u64 {
    24 * papers as u64 + 4 * pairs as u64 + 50
}

/// `chunk` in two: its readers halved when it has several, else its papers; a single pair
/// cannot be split (`Err`).
pub(super) fn halves<'p>(chunk: Chunk<'p>) -> Result<(Chunk<'p>, Chunk<'p>), Chunk<'p>> {
    let readers: BTreeSet<usize> = chunk.iter().flat_map(|c| c.1.iter().copied()).collect();
    if readers.len() > 1 {
        let mid = *readers.iter().nth(readers.len() / 2).expect("two or more");
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (p, rs) in chunk {
            let (low, high): (Vec<usize>, Vec<usize>) = rs.into_iter().partition(|&r| r < mid);
            if !low.is_empty() {
                a.push((p, low));
            }
            if !high.is_empty() {
                b.push((p, high));
            }
        }
        Ok((a, b))
    } else if chunk.len() > 1 {
        let mut a = chunk;
        let b = a.split_off(a.len() / 2);
        Ok((a, b))
    } else {
        Err(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::paper;

    fn sizes(profile: &[usize], limit_tokens: u64) -> Sizes<'_> {
        Sizes {
            profile,
            base: 1_000,
            limit_tokens,
        }
    }

    #[test]
    fn readers_sharing_papers_share_calls_and_every_pair_is_asked_once() {
        let papers: Vec<Paper> = (0..40).map(|i| paper(&format!("2503.{i:05}"))).collect();
        // Readers 0–9 want papers 0–9, readers 10–19 papers 20–29: two calls, not twenty.
        let pending: Vec<Vec<&Paper>> = (0..20)
            .map(|r| {
                let from = if r < 10 { 0 } else { 20 };
                papers[from..from + 10].iter().collect()
            })
            .collect();
        let profile = vec![400; 20];
        let chunks = verdict_chunks(&pending, &sizes(&profile, 115_000), 100, 240);
        assert_eq!(chunks.len(), 1, "200 pairs fit one call");
        let chunks = verdict_chunks(&pending, &sizes(&profile, 115_000), 100, 100);
        assert_eq!(chunks.len(), 2);
        for c in &chunks {
            assert_eq!(c.len(), 10, "each abstract once, with its ten readers");
            let readers: BTreeSet<usize> = c.iter().flat_map(|x| x.1.clone()).collect();
            assert_eq!(readers.len(), 10);
        }
        let mut pairs: Vec<(String, usize)> = chunks
            .iter()
            .flatten()
            .flat_map(|(p, rs)| rs.iter().map(|&r| (p.id.to_string(), r)))
            .collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 200);
    }

    #[test]
    fn a_call_stays_inside_the_window() {
        let papers: Vec<Paper> = (0..30).map(|i| paper(&format!("2503.{i:05}"))).collect();
        let pending: Vec<Vec<&Paper>> = (0..50).map(|_| papers.iter().collect()).collect();
        // Profiles of 30 kB each: a 20k-token window holds one reader and a few papers a call.
        let profile = vec![30_000; 50];
        let s = sizes(&profile, 36_000);
        let chunks = verdict_chunks(&pending, &s, 100, 240);
        for c in &chunks {
            let readers: BTreeSet<usize> = c.iter().flat_map(|x| x.1.clone()).collect();
            let bytes = s.base
                + readers.iter().map(|&r| profile[r]).sum::<usize>()
                + c.iter().map(|(p, _)| abstract_bytes(p)).sum::<usize>();
            assert!(bytes <= s.budget(16_384), "{bytes} bytes in a call");
        }
        let pairs: usize = chunks.iter().flatten().map(|c| c.1.len()).sum();
        assert_eq!(pairs, 1500, "nothing lost to the packing");

        let ask: Chunk = papers.iter().map(|p| (p, (0..50).collect())).collect();
        let t = triage_chunks(ask, &s, 200);
        // 30 titles leave room for three readers' topics a call.
        assert_eq!(t.len(), 17, "topics of 50 readers over {} calls", t.len());
        let pairs: usize = t.iter().flatten().map(|c| c.1.len()).sum();
        assert_eq!(pairs, 1500);
    }

    #[test]
    fn halves_split_readers_first_then_papers() {
        let papers: Vec<Paper> = (0..4).map(|i| paper(&format!("2503.{i:05}"))).collect();
        let chunk: Chunk = papers.iter().map(|p| (p, vec![0, 1, 2])).collect();
        let (a, b) = halves(chunk).unwrap();
        assert!(a.iter().all(|c| c.1 == vec![0]) && b.iter().all(|c| c.1 == vec![1, 2]));
        let (c, d) = halves(a).unwrap();
        assert_eq!((c.len(), d.len()), (2, 2));
        let one: Chunk = vec![(&papers[0], vec![0])];
        assert!(halves(one).is_err());
    }
}
