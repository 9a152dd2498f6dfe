//! A reader's language for the TL;DR and comments: a BCP 47 tag (`de`, `pt-BR`, `zh-Hant`), of
//! which the primary ISO 639 subtag names the language for the model ("German").

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language {
    tag: String,
    name: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a language tag paperboy knows; write a BCP 47 tag such as \"en\", \"de\", \"fr\", \"pt-BR\" or \"ja\"")]
pub struct LanguageError(pub String);

impl Language {
    pub fn parse(raw: &str) -> Result<Language, LanguageError> {
        let tag = raw.trim();
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let lang = match primary.len() {
            2 => isolang::Language::from_639_1(&primary),
            3 => isolang::Language::from_639_3(&primary),
            _ => None,
        }
        .ok_or_else(|| LanguageError(raw.to_string()))?;
        let rest_ok = tag
            .split(['-', '_'])
            .skip(1)
            .all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()));
        if !rest_ok {
            return Err(LanguageError(raw.to_string()));
        }
        Ok(Language {
            tag: tag.replace('_', "-"),
            name: lang.to_name(),
        })
    }

    pub fn english() -> Language {
        Language::parse("en").expect("English is a language")
    }

    /// The tag as written (`pt-BR`).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The language's name in English, as the prompt names it ("German").
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn is_english(&self) -> bool {
        self.name == "English"
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_names() {
        assert_eq!(Language::parse("de").unwrap().name(), "German");
        assert_eq!(Language::parse("pt-BR").unwrap().name(), "Portuguese");
        assert_eq!(Language::parse("pt-BR").unwrap().tag(), "pt-BR");
        assert_eq!(Language::parse("ja").unwrap().name(), "Japanese");
        assert!(Language::english().is_english());
        for bad in ["", "xx", "German", "de-!!"] {
            assert!(Language::parse(bad).is_err(), "{bad}");
        }
    }
}
