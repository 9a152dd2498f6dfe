use std::fmt;

use super::Source;

/// A category of one source: an arXiv category such as `cs.LG`, `stat.ML` or `hep-th`, or a
/// preprint server's subject written `biorxiv:neuroscience`, `medrxiv:epidemiology` (lower case,
/// spaces as the server writes them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(String);

/// bioRxiv's subject areas (https://www.biorxiv.org, "Subject Areas"), as its API writes them.
pub const BIORXIV_SUBJECTS: &[&str] = &[
    "animal behavior and cognition",
    "biochemistry",
    "bioengineering",
    "bioinformatics",
    "biophysics",
    "cancer biology",
    "cell biology",
    "clinical trials",
    "developmental biology",
    "ecology",
    "epidemiology",
    "evolutionary biology",
    "genetics",
    "genomics",
    "immunology",
    "microbiology",
    "molecular biology",
    "neuroscience",
    "paleontology",
    "pathology",
    "pharmacology and toxicology",
    "physiology",
    "plant biology",
    "scientific communication and education",
    "synthetic biology",
    "systems biology",
    "zoology",
];

/// medRxiv's subject areas (https://www.medrxiv.org, "Subject Areas"), lower-cased.
pub const MEDRXIV_SUBJECTS: &[&str] = &[
    "addiction medicine",
    "allergy and immunology",
    "anesthesia",
    "cardiovascular medicine",
    "dentistry and oral medicine",
    "dermatology",
    "emergency medicine",
    "endocrinology",
    "epidemiology",
    "forensic medicine",
    "gastroenterology",
    "genetic and genomic medicine",
    "geriatric medicine",
    "health economics",
    "health informatics",
    "health policy",
    "health systems and quality improvement",
    "hematology",
    "hiv aids",
    "infectious diseases",
    "intensive care and critical care medicine",
    "medical education",
    "medical ethics",
    "nephrology",
    "neurology",
    "nursing",
    "nutrition",
    "obstetrics and gynecology",
    "occupational and environmental health",
    "oncology",
    "ophthalmology",
    "orthopedics",
    "otolaryngology",
    "pain medicine",
    "palliative medicine",
    "pathology",
    "pediatrics",
    "pharmacology and therapeutics",
    "primary care research",
    "psychiatry and clinical psychology",
    "public and global health",
    "radiology and imaging",
    "rehabilitation medicine and physical therapy",
    "respiratory medicine",
    "rheumatology",
    "sexual and reproductive health",
    "sports medicine",
    "surgery",
    "toxicology",
    "transplantation",
    "urology",
];

/// arXiv's category taxonomy (https://arxiv.org/category_taxonomy), archives included (a feed of
/// `astro-ph` or `math` is every category in it).
pub const TAXONOMY: &[&str] = &[
    "astro-ph",
    "astro-ph.CO",
    "astro-ph.EP",
    "astro-ph.GA",
    "astro-ph.HE",
    "astro-ph.IM",
    "astro-ph.SR",
    "cond-mat",
    "cond-mat.dis-nn",
    "cond-mat.mes-hall",
    "cond-mat.mtrl-sci",
    "cond-mat.other",
    "cond-mat.quant-gas",
    "cond-mat.soft",
    "cond-mat.stat-mech",
    "cond-mat.str-el",
    "cond-mat.supr-con",
    "gr-qc",
    "hep-ex",
    "hep-lat",
    "hep-ph",
    "hep-th",
    "math-ph",
    "nlin",
    "nlin.AO",
    "nlin.CD",
    "nlin.CG",
    "nlin.PS",
    "nlin.SI",
    "nucl-ex",
    "nucl-th",
    "physics",
    "physics.acc-ph",
    "physics.ao-ph",
    "physics.app-ph",
    "physics.atm-clus",
    "physics.atom-ph",
    "physics.bio-ph",
    "physics.chem-ph",
    "physics.class-ph",
    "physics.comp-ph",
    "physics.data-an",
    "physics.ed-ph",
    "physics.flu-dyn",
    "physics.gen-ph",
    "physics.geo-ph",
    "physics.hist-ph",
    "physics.ins-det",
    "physics.med-ph",
    "physics.optics",
    "physics.plasm-ph",
    "physics.pop-ph",
    "physics.soc-ph",
    "physics.space-ph",
    "quant-ph",
    "math",
    "math.AC",
    "math.AG",
    "math.AP",
    "math.AT",
    "math.CA",
    "math.CO",
    "math.CT",
    "math.CV",
    "math.DG",
    "math.DS",
    "math.FA",
    "math.GM",
    "math.GN",
    "math.GR",
    "math.GT",
    "math.HO",
    "math.IT",
    "math.KT",
    "math.LO",
    "math.MG",
    "math.MP",
    "math.NA",
    "math.NT",
    "math.OA",
    "math.OC",
    "math.PR",
    "math.QA",
    "math.RA",
    "math.RT",
    "math.SG",
    "math.SP",
    "math.ST",
    "cs",
    "cs.AI",
    "cs.AR",
    "cs.CC",
    "cs.CE",
    "cs.CG",
    "cs.CL",
    "cs.CR",
    "cs.CV",
    "cs.CY",
    "cs.DB",
    "cs.DC",
    "cs.DL",
    "cs.DM",
    "cs.DS",
    "cs.ET",
    "cs.FL",
    "cs.GL",
    "cs.GR",
    "cs.GT",
    "cs.HC",
    "cs.IR",
    "cs.IT",
    "cs.LG",
    "cs.LO",
    "cs.MA",
    "cs.MM",
    "cs.MS",
    "cs.NA",
    "cs.NE",
    "cs.NI",
    "cs.OH",
    "cs.OS",
    "cs.PF",
    "cs.PL",
    "cs.RO",
    "cs.SC",
    "cs.SD",
    "cs.SE",
    "cs.SI",
    "cs.SY",
    "q-bio",
    "q-bio.BM",
    "q-bio.CB",
    "q-bio.GN",
    "q-bio.MN",
    "q-bio.NC",
    "q-bio.OT",
    "q-bio.PE",
    "q-bio.QM",
    "q-bio.SC",
    "q-bio.TO",
    "q-fin",
    "q-fin.CP",
    "q-fin.EC",
    "q-fin.GN",
    "q-fin.MF",
    "q-fin.PM",
    "q-fin.PR",
    "q-fin.RM",
    "q-fin.ST",
    "q-fin.TR",
    "stat",
    "stat.AP",
    "stat.CO",
    "stat.ME",
    "stat.ML",
    "stat.OT",
    "stat.TH",
    "eess",
    "eess.AS",
    "eess.IV",
    "eess.SP",
    "eess.SY",
    "econ",
    "econ.EM",
    "econ.GN",
    "econ.TH",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a category (expected an arXiv category such as cs.LG, stat.ML or hep-th, or a preprint subject such as biorxiv:neuroscience)")]
pub struct CategoryError(pub String);

impl Category {
    /// A subject of a preprint server, as the config's `[biorxiv]`/`[medrxiv]` or the API
    /// write it (`Neuroscience`, `cell_biology`, `cell biology`).
    pub fn subject(source: Source, raw: &str) -> Result<Category, CategoryError> {
        let name = raw
            .replace('_', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let ok = !name.is_empty()
            && source != Source::Arxiv
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || " /(),-'".contains(c));
        if ok {
            Ok(Category(format!("{}:{name}", source.as_str())))
        } else {
            Err(CategoryError(raw.to_string()))
        }
    }

    pub fn parse(raw: &str) -> Result<Category, CategoryError> {
        let s = raw.trim();
        if let Some((prefix, subject)) = s.split_once(':') {
            return match Source::parse(prefix) {
                Some(source) if source != Source::Arxiv => Category::subject(source, subject),
                _ => Err(CategoryError(raw.to_string())),
            };
        }
        let (archive, subject) = match s.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let archive_ok = !archive.is_empty()
            && archive
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
            && archive.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        let subject_ok = subject.is_none_or(|b| {
            !b.is_empty() && b.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        });
        if archive_ok && subject_ok {
            Ok(Category(s.to_string()))
        } else {
            Err(CategoryError(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The source whose category this is.
    pub fn source(&self) -> Source {
        match self.0.split_once(':') {
            Some((prefix, _)) => Source::parse(prefix).unwrap_or(Source::Arxiv),
            None => Source::Arxiv,
        }
    }

    /// The name within its source: `cs.LG`, or `neuroscience` for `biorxiv:neuroscience`.
    pub fn name(&self) -> &str {
        match self.0.split_once(':') {
            Some((_, name)) => name,
            None => &self.0,
        }
    }

    /// Whether the source has this category.
    pub fn is_known(&self) -> bool {
        Category::known(self.source()).contains(&self.name())
    }

    /// Every category name of `source`.
    pub fn known(source: Source) -> &'static [&'static str] {
        match source {
            Source::Arxiv => TAXONOMY,
            Source::Biorxiv => BIORXIV_SUBJECTS,
            Source::Medrxiv => MEDRXIV_SUBJECTS,
        }
    }

    /// The (at most three) names of `source` closest to `raw`, best first: for "did you mean".
    pub fn nearest_in(source: Source, raw: &str) -> Vec<&'static str> {
        let key = raw.trim().replace('_', " ").to_lowercase();
        let mut scored: Vec<(f64, &'static str)> = Category::known(source)
            .iter()
            .map(|c| (strsim::jaro_winkler(&c.to_lowercase(), &key), *c))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, c)| c).collect()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_categories_get_suggestions() {
        assert!(Category::parse("cs.LG").unwrap().is_known());
        assert!(!Category::parse("astroph").unwrap().is_known());
        assert_eq!(
            Category::nearest_in(Source::Arxiv, "astroph")[0],
            "astro-ph"
        );
        assert_eq!(Category::nearest_in(Source::Arxiv, "cs.lg")[0], "cs.LG");
    }

    #[test]
    fn parses_real_categories() {
        for c in [
            "cs.LG",
            "cs.AI",
            "stat.ML",
            "math.OC",
            "hep-th",
            "q-bio.NC",
            "astro-ph.CO",
        ] {
            assert_eq!(Category::parse(c).unwrap().as_str(), c);
        }
    }

    #[test]
    fn preprint_subjects_carry_their_server() {
        let c = Category::parse("biorxiv:Cell_Biology").unwrap();
        assert_eq!(c.as_str(), "biorxiv:cell biology");
        assert_eq!(c.source(), Source::Biorxiv);
        assert_eq!(c.name(), "cell biology");
        assert!(c.is_known());
        let m = Category::subject(Source::Medrxiv, "Epidemiology").unwrap();
        assert_eq!(m, Category::parse("medrxiv:epidemiology").unwrap());
        assert!(!Category::parse("biorxiv:neurosciense").unwrap().is_known());
        assert_eq!(
            Category::nearest_in(Source::Biorxiv, "neurosciense")[0],
            "neuroscience"
        );
        assert_eq!(Category::parse("cs.LG").unwrap().source(), Source::Arxiv);
        assert!(Category::parse("pubmed:neuroscience").is_err());
        assert!(Category::parse("arxiv:cs.LG").is_err());
    }

    #[test]
    fn rejects_nonsense() {
        for c in ["", "cs.", ".LG", "CS.LG", "cs LG", "cs.LG+cs.AI", "cs/LG"] {
            assert!(Category::parse(c).is_err(), "{c}");
        }
    }
}
