//! What real mail clients put around the text a person typed, as data: quote separators,
//! attribution lines, quoted-header blocks and signatures, per language. To teach paperboy a new
//! client or language, add its line here and a fixture pair in `tests/fixtures/mail/`.
//!
//! Patterns are regular expressions matched against one trimmed line (case-insensitive); an
//! attribution may also be matched against a line joined with the next (clients wrap it).

use std::sync::LazyLock;

use regex::RegexSet;

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything from this line on is the quoted message (never bottom-posted text).
    Separator,
    /// "On … wrote:": the quote follows (as `>` lines, or as a block for some clients).
    Attribution,
    /// First line of a quoted header block ("From:"), confirmed by a `Sent` line right after.
    HeaderFrom,
    /// The date line of a quoted header block ("Sent:", "Gesendet:").
    HeaderSent,
    /// The subject line of a quoted header block ("Subject:", "Betreff:"): confirms it too.
    HeaderSubject,
    /// The sender's signature starts here: nothing below it is typed text.
    Signature,
}

/// (language, role, pattern).
pub const RULES: &[(&str, Role, &str)] = &[
    // --- Separators -----------------------------------------------------------------------
    ("*", Role::Separator, r"^_{8,}$"),
    (
        "*",
        Role::Separator,
        r"^-{2,}\s*(original message|forwarded message)\s*-{2,}$",
    ),
    ("en", Role::Separator, r"^begin forwarded message:$"),
    // mutt: "----- Forwarded message from Grace <g@x> -----"
    (
        "en",
        Role::Separator,
        r"^-{2,}\s*forwarded message from .+-{2,}$",
    ),
    // Apple Mail's forward, localized.
    (
        "de",
        Role::Separator,
        r"^anfang der weitergeleiteten (nachricht|e-mail)\s?:$",
    ),
    (
        "fr",
        Role::Separator,
        r"^début du message (réexpédié|transféré)\s?:$",
    ),
    (
        "es",
        Role::Separator,
        r"^(inicio|comienzo) del mensaje reenviado\s?:$",
    ),
    ("it", Role::Separator, r"^inizio messaggio inoltrato\s?:$"),
    ("nl", Role::Separator, r"^begin doorgestuurd bericht\s?:$"),
    (
        "pt",
        Role::Separator,
        r"^início da mensagem reencaminhada\s?:$",
    ),
    ("en", Role::Separator, r"^-{2,} ?on .+ wrote ?-{2,}$"),
    (
        "de",
        Role::Separator,
        r"^-{2,}\s*(ursprüngliche nachricht|weitergeleitete nachricht)\s*-{2,}$",
    ),
    (
        "fr",
        Role::Separator,
        r"^-{2,}\s*(message d'origine|message original|message transféré)\s*-{2,}$",
    ),
    (
        "es",
        Role::Separator,
        r"^-{2,}\s*(mensaje original|mensaje reenviado)\s*-{2,}$",
    ),
    (
        "pt",
        Role::Separator,
        r"^-{2,}\s*(mensagem original|mensagem encaminhada)\s*-{2,}$",
    ),
    (
        "it",
        Role::Separator,
        r"^-{2,}\s*(messaggio originale|messaggio inoltrato)\s*-{2,}$",
    ),
    (
        "nl",
        Role::Separator,
        r"^-{2,}\s*(oorspronkelijk bericht|origineel bericht|doorgestuurd bericht)\s*-{2,}$",
    ),
    (
        "sv",
        Role::Separator,
        r"^-{2,}\s*(ursprungligt meddelande|originalmeddelande|vidarebefordrat meddelande)\s*-{2,}$",
    ),
    (
        "pl",
        Role::Separator,
        r"^-{2,}\s*(wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość)\s*-{2,}$",
    ),
    (
        "ru",
        Role::Separator,
        r"^-{2,}\s*(исходное сообщение|пересылаемое сообщение|оригинальное сообщение)\s*-{2,}$",
    ),
    (
        "zh",
        Role::Separator,
        r"^-{2,}\s*(原始邮件|原始郵件|转发的邮件)\s*-{2,}$",
    ),
    (
        "ja",
        Role::Separator,
        r"^-{2,}\s*(元のメッセージ|転送されたメッセージ|original message)\s*-{2,}$",
    ),
    // --- Attribution lines ------------------------------------------------------------------
    ("en", Role::Attribution, r"^on\b.+\bwrote:?$"),
    ("en", Role::Attribution, r"^.+\bwrote:$"),
    ("en", Role::Attribution, r"^\* .+ \[[^\]]+\]:$"),
    ("de", Role::Attribution, r"^(am\b.+\b)?.+\bschrieb\b.*:$"),
    ("fr", Role::Attribution, r"^(le\b.+)?\ba écrit\s?:$"),
    ("es", Role::Attribution, r"^(el\b.+)?\bescribió\s?:$"),
    ("pt", Role::Attribution, r"^(em\b.+)?\bescreveu\s?:$"),
    ("it", Role::Attribution, r"^(il\b.+)?\bha scritto\s?:$"),
    (
        "nl",
        Role::Attribution,
        r"^(op\b.+)?\b(schreef|het volgende geschreven)\b.*:$",
    ),
    ("sv", Role::Attribution, r"^(den\b.+)?\bskrev\b.*:$"),
    ("pl", Role::Attribution, r"^.+\bnapisał(a|\(a\))?\s?:$"),
    ("ru", Role::Attribution, r"^.+\bнаписал(а|\(а\))?\s?:$"),
    (
        "ru",
        Role::Attribution,
        r"^(пн|вт|ср|чт|пт|сб|вс),? .*\d.*<[^>]+@[^>]+>:$",
    ),
    ("zh", Role::Attribution, r"^.+写道\s?[:：]$"),
    (
        "ja",
        Role::Attribution,
        r"^.*\d{4}年\d{1,2}月\d{1,2}日.*<[^>]+@[^>]+>\s?[:：]?$",
    ),
    (
        "ja",
        Role::Attribution,
        r"^.+(のメッセージ|さんは書きました)\s?[:：]$",
    ),
    ("*", Role::Attribution, r"^.*\d.*<[^>\s]+@[^>\s]+>\s?[:：]$"),
    // --- Quoted header blocks (Outlook and friends) ----------------------------------------
    ("en", Role::HeaderFrom, r"^\*?from\s?:"),
    ("de", Role::HeaderFrom, r"^\*?von\s?:"),
    ("fr/es/pt", Role::HeaderFrom, r"^\*?de\s?:"),
    ("it", Role::HeaderFrom, r"^\*?da\s?:"),
    ("sv", Role::HeaderFrom, r"^\*?från\s?:"),
    ("nl", Role::HeaderFrom, r"^\*?van\s?:"),
    ("pl", Role::HeaderFrom, r"^\*?od\s?:"),
    ("ru", Role::HeaderFrom, r"^\*?от\s?:"),
    ("zh", Role::HeaderFrom, r"^\*?发件人\s?[:：]"),
    ("ja", Role::HeaderFrom, r"^\*?差出人\s?[:：]"),
    ("en", Role::HeaderSent, r"^\*?(sent|date)\s?:"),
    ("de", Role::HeaderSent, r"^\*?(gesendet|datum)\s?:"),
    ("fr", Role::HeaderSent, r"^\*?(envoyé|date)\s?:"),
    ("es/pt", Role::HeaderSent, r"^\*?(enviado|fecha|data)\s?:"),
    ("it", Role::HeaderSent, r"^\*?(inviato|data)\s?:"),
    ("sv", Role::HeaderSent, r"^\*?(skickat|datum)\s?:"),
    ("nl", Role::HeaderSent, r"^\*?(verzonden|datum)\s?:"),
    ("pl", Role::HeaderSent, r"^\*?(wysłano|data)\s?:"),
    ("ru", Role::HeaderSent, r"^\*?(отправлено|дата)\s?:"),
    ("zh", Role::HeaderSent, r"^\*?(发送时间|日期)\s?[:：]"),
    ("ja", Role::HeaderSent, r"^\*?(送信日時|日付)\s?[:：]"),
    ("en", Role::HeaderSubject, r"^\*?subject\s?:"),
    ("de", Role::HeaderSubject, r"^\*?betreff\s?:"),
    ("fr", Role::HeaderSubject, r"^\*?(objet|sujet)\s?:"),
    ("es/pt", Role::HeaderSubject, r"^\*?(asunto|assunto)\s?:"),
    ("it", Role::HeaderSubject, r"^\*?oggetto\s?:"),
    ("sv", Role::HeaderSubject, r"^\*?ämne\s?:"),
    ("nl", Role::HeaderSubject, r"^\*?onderwerp\s?:"),
    ("pl", Role::HeaderSubject, r"^\*?temat\s?:"),
    ("ru", Role::HeaderSubject, r"^\*?тема\s?:"),
    ("zh", Role::HeaderSubject, r"^\*?主题\s?[:：]"),
    ("ja", Role::HeaderSubject, r"^\*?件名\s?[:：]"),
    // --- Signatures ---------------------------------------------------------------------------
    ("*", Role::Signature, r"^--\s?$"),
    (
        "en",
        Role::Signature,
        r"^sent (from|with|via) (my |the )?\S+",
    ),
    ("en", Role::Signature, r"^get outlook for \S+"),
    (
        "de",
        Role::Signature,
        r"^(von meinem|gesendet von meinem) .+ gesendet$|^von meinem \S+",
    ),
    ("de", Role::Signature, r"^outlook für \S+ beziehen"),
    ("fr", Role::Signature, r"^envoyé (de|depuis) (mon|ma) \S+"),
    ("fr", Role::Signature, r"^obtenir outlook pour \S+"),
    ("es", Role::Signature, r"^enviado (desde|con) (mi|el) \S+"),
    ("pt", Role::Signature, r"^enviado (do|de|pelo) (meu|o) \S+"),
    ("it", Role::Signature, r"^inviato da \S+"),
    (
        "nl",
        Role::Signature,
        r"^(verzonden|verstuurd) (vanaf|met) (mijn )?\S+",
    ),
    ("sv", Role::Signature, r"^skickat från (min )?\S+"),
    ("pl", Role::Signature, r"^wysłane z \S+"),
    ("ru", Role::Signature, r"^отправлено (с|из) \S+"),
    ("zh", Role::Signature, r"^(发自我的|从我的|來自我的)\S+"),
    ("ja", Role::Signature, r"^\S+(から送信|より送信)$"),
];

/// The rules compiled, one set per role.
pub struct Compiled {
    pub separator: RegexSet,
    pub attribution: RegexSet,
    pub header_from: RegexSet,
    pub header_sent: RegexSet,
    pub header_subject: RegexSet,
    pub signature: RegexSet,
}

pub static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let set = |role: Role| {
        RegexSet::new(
            RULES
                .iter()
                .filter(|(_, r, _)| *r == role)
                .map(|(_, _, p)| format!("(?i){p}")),
        )
        .expect("the reply rules are valid regular expressions")
    };
    Compiled {
        separator: set(Role::Separator),
        attribution: set(Role::Attribution),
        header_from: set(Role::HeaderFrom),
        header_sent: set(Role::HeaderSent),
        header_subject: set(Role::HeaderSubject),
        signature: set(Role::Signature),
    }
});
