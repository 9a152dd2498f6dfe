//! The addresses a reader replies to: `digest+TOKEN@…` for commands and
//! `digest+unsub-TOKEN@…` for unsubscribing. The tokens are the authority, not the sender.

use lettre::Address;

/// A reader's two capabilities: the reply token (their commands) and the unsubscribe token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTokens {
    pub reply: String,
    pub unsubscribe: String,
}

/// A subscriber's two addresses: replies (`digest+TOKEN@…`) and unsubscribing
/// (`digest+unsub-TOKEN@…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyAddresses {
    pub reply_to: Address,
    pub unsubscribe: Address,
}

impl ReplyAddresses {
    pub fn new(base: &Address, tokens: &ReplyTokens) -> ReplyAddresses {
        let make = |tag: &str| {
            Address::new(format!("{}+{tag}", base.user()), base.domain())
                .expect("a valid base address with a hex tag")
        };
        ReplyAddresses {
            reply_to: make(&tokens.reply),
            unsubscribe: make(&format!("unsub-{}", tokens.unsubscribe)),
        }
    }
}
