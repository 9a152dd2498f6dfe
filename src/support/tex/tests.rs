use super::to_unicode;

/// Titles as arXiv's feeds carry them (TeX in metadata), and what readers should see.
#[test]
fn real_titles() {
    for (raw, shown) in [
        (
            r"Measurement of $D_{(s)}^{+}\rightarrow\pi^{+}$ decays",
            "Measurement of D₍ₛ₎⁺→π⁺ decays",
        ),
        (r"\b{eta}-VAE revisited", "e̱ta-VAE revisited"),
        (r"$\beta$-VAE", "β-VAE"),
        (
            r"$O(n^{2})$ and $\mathcal{O}(\log n)$ bounds",
            "O(n²) and O(log n) bounds",
        ),
        (r"Learning on $\mathbb{R}^d$", "Learning on ℝᵈ"),
        (r"$\ell_1$-norm and $k$-NN", "ℓ₁-norm and k-NN"),
        (r"$\alpha_t$ schedules for $x_{ij}$", "αₜ schedules for xᵢⱼ"),
        (
            r"Approximating $\frac{1}{2}$-Lipschitz maps",
            r"Approximating $\frac{1}{2}$-Lipschitz maps",
        ),
    ] {
        assert_eq!(to_unicode(raw), shown, "{raw}");
    }
}

#[test]
fn names_from_the_seeds() {
    let cases = [
        (r#"Bj\"orn W. Schuller"#, "Björn W. Schuller"),
        (r"Micha{\l} Koziarski", "Michał Koziarski"),
        (
            r"J. Quetzalc\'oatl Toledo-Marin",
            "J. Quetzalcóatl Toledo-Marin",
        ),
        (r"Fernanda Vi\'egas", "Fernanda Viégas"),
        (r"Marin Solja\v{c}i\'c", "Marin Soljačić"),
        (r"Oriol Mayn\'e i Comas", "Oriol Mayné i Comas"),
        (r"\'Eric Granger", "Éric Granger"),
        (r"Alex Hern\'andez-Garc\'ia", "Alex Hernández-García"),
        (r#"J\"org Bornschein"#, "Jörg Bornschein"),
        (r"V\'{\i}ctor Elvira", "Víctor Elvira"),
        (r"{\O}ystein Ore", "Øystein Ore"),
        (r"Fran\c{c}ois", "François"),
        (r"Ma\l{}gorzata", "Małgorzata"),
        (r"Stra\ss e", "Straße"),
        (r"Pawe\l\ Nowak", "Paweł Nowak"),
    ];
    for (tex, want) in cases {
        assert_eq!(to_unicode(tex), want, "{tex}");
    }
}

#[test]
fn titles_and_abstracts() {
    assert_eq!(
        to_unicode(r"Neuroplasticity in AI -- An Overview on Drop In \& Out Learning"),
        "Neuroplasticity in AI – An Overview on Drop In & Out Learning"
    );
    assert_eq!(
        to_unicode(r"L$^2$M: Mutual Information Scaling"),
        "L²M: Mutual Information Scaling"
    );
    assert_eq!(
        to_unicode(r"a database of $\sim$600 materials"),
        "a database of ∼600 materials"
    );
    assert_eq!(to_unicode(r"an $O(n^{2})$ bound"), "an O(n²) bound");
    assert_eq!(to_unicode(r"for ~320 structures"), "for ~320 structures");
    assert_eq!(
        to_unicode(r"pages 9---10 and ``quoted''"),
        "pages 9—10 and “quoted”"
    );
    assert_eq!(to_unicode(r"\emph{very} {BERT} models"), "very BERT models");
    assert_eq!(
        to_unicode(r"$\alpha$-divergence with $\beta \leq 1$"),
        "α-divergence with β ≤ 1"
    );
}

#[test]
fn math_that_cannot_be_written_in_unicode_stays_tex() {
    assert_eq!(to_unicode(r"a $\frac{1}{2}$ rate"), r"a $\frac{1}{2}$ rate");
    assert_eq!(to_unicode(r"loss $x^{q}$"), r"loss $x^{q}$");
    assert_eq!(to_unicode(r"costs \$5 per run"), "costs $5 per run");
}

#[test]
fn plain_text_and_stray_markup_survive() {
    assert_eq!(to_unicode("1.58%~8.91% accuracy"), "1.58%~8.91% accuracy");
    assert_eq!(to_unicode("a lone $ sign"), "a lone $ sign");
    assert_eq!(to_unicode(r"unknown \macro stays"), r"unknown \macro stays");
    assert_eq!(to_unicode("trailing backslash \\"), "trailing backslash \\");
    assert_eq!(to_unicode("Björn"), "Björn");
    assert_eq!(to_unicode("it's a model's view"), "it's a model's view");
}

/// Issue 20's examples from real abstracts: nothing half-converted.
#[test]
fn font_switches_script_letters_and_math_accents() {
    assert_eq!(
        to_unicode(r"the {\bf double descent} curve"),
        "the double descent curve"
    );
    assert_eq!(to_unicode(r"{\em not} learned"), "not learned");
    assert_eq!(to_unicode(r"$\Tilde{O}(n)$ regret"), "Õ(n) regret");
    assert_eq!(to_unicode(r"$\tilde{O}(n)$"), "Õ(n)");
    assert_eq!(to_unicode(r"$\mathcal{D}$-sampled"), "𝒟-sampled");
    assert_eq!(to_unicode(r"$\mathcal{L}$ and $\mathcal{A}$"), "ℒ and 𝒜");
    assert_eq!(to_unicode(r"$a \equiv b$"), "a ≡ b");
    // An accent over more than one letter is not written in Unicode: the math stays TeX.
    assert_eq!(to_unicode(r"$\widetilde{AB}$"), r"$\widetilde{AB}$");
}
