//! Model prices in USD per 1M tokens, as published by the provider. Override or extend them in
//! `paperboy.toml` under `[llm.prices."model-name"]`.

use std::collections::BTreeMap;

use crate::config::PriceOverride;
use crate::domain::Money;

/// When the built-in table below was last checked against the provider's price page.
pub const PRICES_CHECKED_ON: &str = "2026-11-22";

/// (model, input, cached input, output) in USD per 1M tokens.
const BUILT_IN: &[(&str, f64, f64, f64)] = &[
    ("gpt-4o", 2.50, 1.25, 10.0),
    ("gpt-4o-mini", 0.15, 0.075, 0.60),
    ("gpt-4.1", 2.00, 0.50, 8.0),
    ("gpt-4.1-mini", 0.40, 0.10, 1.60),
    ("gpt-4.1-nano", 0.10, 0.025, 0.40),
    ("gpt-5", 1.25, 0.125, 10.0),
    ("gpt-5-mini", 0.25, 0.025, 2.0),
    ("gpt-5-nano", 0.05, 0.005, 0.40),
    // Embedding models: input only.
    ("text-embedding-3-small", 0.02, 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.13, 0.0),
    ("text-embedding-ada-002", 0.10, 0.10, 0.0),
];

/// A price in nano-dollars per token (= milli-dollars per 1M tokens): integers for every
/// published price, so costs are computed exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub input: i64,
    pub cached_input: i64,
    pub output: i64,
}

impl Price {
    fn from_usd_per_million(input: f64, cached: f64, output: f64) -> Price {
        let nanos = |usd: f64| (usd * 1000.0).round() as i64;
        Price {
            input: nanos(input),
            cached_input: nanos(cached),
            output: nanos(output),
        }
    }

    /// Cost = (prompt − cached)·input + cached·cached_rate + completion·output.
    pub fn cost(&self, prompt: u64, cached: u64, completion: u64) -> Money {
        let cached = cached.min(prompt);
        let nanos = (prompt - cached) as i64 * self.input
            + cached as i64 * self.cached_input
            + completion as i64 * self.output;
        Money::from_micros((nanos + 500) / 1000)
    }
}

#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(overrides: &BTreeMap<String, PriceOverride>) -> PriceTable {
        let mut prices: BTreeMap<String, Price> = BUILT_IN
            .iter()
            .map(|&(m, i, c, o)| (m.to_string(), Price::from_usd_per_million(i, c, o)))
            .collect();
        for (model, p) in overrides {
            prices.insert(
                model.clone(),
                Price::from_usd_per_million(p.input, p.cached_input.unwrap_or(p.input), p.output),
            );
        }
        PriceTable { prices }
    }

    /// The price of `model`: an exact entry, or the longest entry that is a prefix of it followed
    /// by a date or tag (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`). `None` for unknown models.
    pub fn get(&self, model: &str) -> Option<Price> {
        // A model run in-process costs nothing.
        if model.starts_with("local:") {
            return Some(Price {
                input: 0,
                cached_input: 0,
                output: 0,
            });
        }
        // Vectors asked at a length (`model@512`) cost what the model costs.
        let model = model.rsplit_once('@').map_or(model, |(m, _)| m);
        if let Some(p) = self.prices.get(model) {
            return Some(*p);
        }
        self.prices
            .iter()
            .filter(|(name, _)| {
                model.strip_prefix(name.as_str()).is_some_and(|rest| {
                    rest.starts_with('-')
                        && rest[1..].chars().next().is_some_and(|c| c.is_ascii_digit())
                })
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_follows_the_published_formula() {
        let table = PriceTable::new(&BTreeMap::new());
        let mini = table.get("gpt-4o-mini").unwrap();
        // 1M prompt tokens of which 200k cached, 100k completion:
        // 0.8M·0.15 + 0.2M·0.075 + 0.1M·0.60 = 0.12 + 0.015 + 0.06 = $0.195
        assert_eq!(mini.cost(1_000_000, 200_000, 100_000).micros(), 195_000);
        // gpt-5-nano cached input is $0.005 per 1M: 1000 cached tokens cost 0.005 micro-dollars → rounds to 0.
        let nano = table.get("gpt-5-nano").unwrap();
        assert_eq!(nano.cost(1_000_000, 1_000_000, 0).micros(), 5_000);
    }

    #[test]
    fn dated_model_names_find_their_family_and_unknown_models_have_no_price() {
        let table = PriceTable::new(&BTreeMap::new());
        assert_eq!(
            table.get("gpt-4o-mini-2024-07-18"),
            table.get("gpt-4o-mini")
        );
        assert_eq!(table.get("gpt-4o-2024-08-06"), table.get("gpt-4o"));
        assert_ne!(table.get("gpt-4o-mini-2024-07-18"), table.get("gpt-4o"));
        assert_eq!(table.get("llama-3-70b"), None);
        assert_eq!(table.get("gpt-4o-audio-preview"), None);
    }

    #[test]
    fn config_overrides_and_additions() {
        let mut o = BTreeMap::new();
        o.insert(
            "llama-3-70b".to_string(),
            PriceOverride {
                input: 0.5,
                cached_input: None,
                output: 1.0,
            },
        );
        let table = PriceTable::new(&o);
        assert_eq!(
            table
                .get("llama-3-70b")
                .unwrap()
                .cost(1_000_000, 0, 1_000_000)
                .micros(),
            1_500_000
        );
    }
}
