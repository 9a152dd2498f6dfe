use std::fmt;

/// An amount of US dollars in micro-dollars (1 USD = 1,000,000). Costs are summed as integers,
/// so a month of small calls never drifts the way floating point would.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

impl Money {
    /// A total of `calls` calls of which `unpriced` had no known price: the known cost, or
    /// "unknown" / "$x+unknown" — never a silent $0.
    pub fn with_unknown(self, unpriced: u64, calls: u64) -> String {
        match unpriced {
            0 => self.to_string(),
            n if n >= calls => "unknown".to_string(),
            _ => format!("{self}+unknown"),
        }
    }
}

/// `35005` → `35,005`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars with enough precision to see small calls: `$0.0021`, `$1.23`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usd = self.usd();
        if self.0 != 0 && usd.abs() < 1.0 {
            write!(f, "${usd:.4}")
        } else {
            write!(f, "${usd:.2}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_small_and_large_amounts() {
        assert_eq!(Money::from_micros(0).to_string(), "$0.00");
        assert_eq!(Money::from_micros(2_100).to_string(), "$0.0021");
        assert_eq!(Money::from_micros(1_234_567).to_string(), "$1.23");
        assert_eq!(
            [Money::from_micros(1), Money::from_micros(2)]
                .into_iter()
                .sum::<Money>()
                .micros(),
            3
        );
    }
}
