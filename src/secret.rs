//! Secrets as a type: an access key secret, client secret or token that
//! cannot be printed or logged by accident. `Debug` and `Display` both
//! print `(redacted)`; the value is reachable only through
//! [`Secret::expose`], which is called where a request is built and nowhere
//! else.
//!
//! Every secret made is also remembered for [`scrub`]: a server that
//! echoes a request into its error body (a token endpoint quoting the form,
//! an API quoting the `Authorization` header) must not get the secret
//! printed, logged or written into a report. Server text is scrubbed of
//! every known secret, in its plain, percent-encoded and base64 (HTTP
//! Basic) forms, and of anything that looks like `Bearer <token>`, before
//! it is shown.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer};

/// What replaces a secret in scrubbed text.
const REDACTED: &str = "(redacted)";

/// Secrets shorter than this are not scrubbed from text: a one- or
/// two-character value would mangle every message it happens to occur in,
/// and no real secret is that short.
const SHORTEST_SCRUBBED: usize = 4;

/// The forms of every secret seen by this process, longest first so that
/// a form containing another is replaced whole.
static KNOWN: RwLock<BTreeSet<Form>> = RwLock::new(BTreeSet::new());

/// One text form of a secret, ordered longest first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Form(std::cmp::Reverse<usize>, String);

impl Form {
    fn new(text: String) -> Form {
        Form(std::cmp::Reverse(text.len()), text)
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        remember(&value);
        Secret(value)
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Remembers the HTTP Basic form of a client id and secret (the base64 of
/// `id:secret`), which contains neither as plain text.
pub fn remember_basic(id: &str, secret: &Secret) {
    let pair = format!("{id}:{}", secret.expose());
    insert([STANDARD.encode(pair.as_bytes())]);
}

fn remember(value: &str) {
    if value.len() < SHORTEST_SCRUBBED {
        return;
    }
    let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    insert([value.to_owned(), encoded, STANDARD.encode(value.as_bytes())]);
}

fn insert(forms: impl IntoIterator<Item = String>) {
    let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        known.insert(Form::new(form));
    }
}

/// `text` with every known secret, in any of its forms, and every
/// `Bearer <token>` replaced by `(redacted)`. Server text goes through
/// here before it is shown, logged or written.
pub fn scrub(text: &str) -> String {
    let known = KNOWN.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_owned();
    for Form(_, form) in known.iter() {
        if out.contains(form.as_str()) {
            out = out.replace(form.as_str(), REDACTED);
        }
    }
    drop(known);
    scrub_bearer(&out)
}

/// Replaces the token after every `Bearer ` (any case): the token may be
/// one this process never saw (another tenant's, a server's own).
fn scrub_bearer(text: &str) -> String {
    const WORD: &str = "bearer";
    let lower = text.to_ascii_lowercase();
    if !lower.contains(WORD) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(WORD) {
        let start = from + found;
        let after = start + WORD.len();
        let gap = text[after..]
            .find(|c: char| !matches!(c, ' ' | '\t' | ':' | '='))
            .map_or(text.len(), |g| after + g);
        let end = text[gap..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '}' | '<'))
            .map_or(text.len(), |e| gap + e);
        if gap > after && end > gap {
            out.push_str(&text[rest..gap]);
            out.push_str(REDACTED);
            rest = end;
        }
        from = end.max(after);
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s:?} {s} {:?}", Some(&s)),
            "(redacted) (redacted) Some((redacted))"
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn scrub_removes_plain_percent_encoded_and_base64_forms() {
        let s = Secret::new("s3cr3t/with+odd=chars");
        let encoded: String = form_urlencoded::byte_serialize(s.expose().as_bytes()).collect();
        let base64 = STANDARD.encode(s.expose());
        let text = format!("form: password={encoded}; raw {} b64 {base64}", s.expose());
        let scrubbed = scrub(&text);
        assert!(!scrubbed.contains(s.expose()), "{scrubbed}");
        assert!(!scrubbed.contains(&encoded), "{scrubbed}");
        assert!(!scrubbed.contains(&base64), "{scrubbed}");
        assert!(
            scrubbed.starts_with("form: password=(redacted)"),
            "{scrubbed}"
        );
    }

    #[test]
    fn scrub_removes_http_basic_of_id_and_secret() {
        let secret = Secret::new("client-secret-value");
        remember_basic("my-client", &secret);
        let basic = STANDARD.encode("my-client:client-secret-value");
        assert_eq!(
            scrub(&format!("Authorization: Basic {basic}")),
            "Authorization: Basic (redacted)"
        );
    }

    #[test]
    fn scrub_removes_any_bearer_token_even_unknown_ones() {
        assert_eq!(
            scrub(r#"{"echo":"Authorization: Bearer eyJhbGci.xyz.abc","x":1}"#),
            r#"{"echo":"Authorization: Bearer (redacted)","x":1}"#
        );
        assert_eq!(scrub("bearer=tok123 ok"), "bearer=(redacted) ok");
        assert_eq!(scrub("no token here"), "no token here");
        assert_eq!(scrub("Bearer"), "Bearer");
    }

    #[test]
    fn short_values_are_not_scrubbed_from_unrelated_text() {
        let _ = Secret::new("ab");
        assert_eq!(scrub("abc and ab"), "abc and ab");
    }
}
