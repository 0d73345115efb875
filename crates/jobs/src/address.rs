//! [`Address`]: a parsed RFC 5322 mailbox.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use lettre::message::Mailbox;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::error::AddressError;
use crate::text::forbidden_control;

/// A parsed RFC 5322 mailbox: an addr-spec (`user@example.com`) with an
/// optional display name (`Zoë <zoe@example.com>`).
///
/// Every value of this type is valid: it is only built by parsing, and the
/// display name (trimmed, each run of spaces and tabs in it one space, `None`
/// when empty) never contains CR, LF, NUL or other control characters, so
/// it can always be written into a header and parses back from its
/// [`Display`](fmt::Display) form unchanged.
///
/// On the wire it is a string: [`Display`](fmt::Display) gives the canonical
/// form (`Name <user@example.com>`, the name quoted when needed), and
/// deserializing parses, so a bad address fails decoding.
///
/// ```
/// use mailroom_jobs::Address;
///
/// let a = Address::parse("Jane Doe <jane@example.com>").unwrap();
/// assert_eq!(a.email(), "jane@example.com");
/// assert_eq!(a.name(), Some("Jane Doe"));
/// assert_eq!(a.domain(), "example.com");
/// assert_eq!(a.masked(), "j***@example.com");
/// assert_eq!(a.to_string(), "Jane Doe <jane@example.com>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(Mailbox);

impl Address {
    /// Parses a mailbox: either a bare `user@domain` or `Name <user@domain>`
    /// (the name may be a quoted string and may contain non-ASCII text).
    ///
    /// # Errors
    ///
    /// [`AddressError`] when the input is not a single valid mailbox, or when
    /// the display name contains a control character.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let mailbox = match plain_mailbox(input) {
            Some(mailbox) => mailbox,
            None => input
                .parse()
                .map_err(|_| AddressError::new(input, explain(input)))?,
        };
        Self::from_mailbox(mailbox).map_err(|reason| AddressError::new(input, reason))
    }

    /// Builds an address from an optional display name and a bare
    /// `user@domain` addr-spec.
    ///
    /// # Errors
    ///
    /// [`AddressError`] when `email` is not a valid addr-spec or `name`
    /// contains a control character.
    pub fn new(name: Option<&str>, email: &str) -> Result<Self, AddressError> {
        let email: lettre::Address =
            email.parse().map_err(|e: lettre::address::AddressError| {
                AddressError::new(email, lowercase_first(&e.to_string()))
            })?;
        let mailbox = Mailbox::new(name.map(str::to_owned), email);
        let input = mailbox.email.to_string();
        Self::from_mailbox(mailbox).map_err(|reason| AddressError::new(&input, reason))
    }

    fn from_mailbox(mut mailbox: Mailbox) -> Result<Self, String> {
        mailbox.name = match mailbox.name.take() {
            Some(name) => {
                if let Some(c) = name.chars().find(|c| c.is_control() && *c != '\t') {
                    return Err(format!("display name contains the control character {c:?}"));
                }
                // Parsing reads a run of white space in a name as one space
                // (RFC 5322 §3.2.2), so the name is kept in that form.
                let words: Vec<&str> = name
                    .trim()
                    .split([' ', '\t'])
                    .filter(|word| !word.is_empty())
                    .collect();
                (!words.is_empty()).then(|| words.join(" "))
            }
            None => None,
        };
        Ok(Self(mailbox))
    }

    /// The addr-spec, e.g. `jane@example.com`.
    #[must_use]
    pub fn email(&self) -> &str {
        self.0.email.as_ref()
    }

    /// The local part of the addr-spec (before the `@`).
    #[must_use]
    pub fn user(&self) -> &str {
        self.0.email.user()
    }

    /// The domain of the addr-spec (after the `@`), as written.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.email.domain()
    }

    /// The display name, if any.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// A form safe for logs: the first character of the local part, `***`
    /// and the domain, e.g. `j***@example.com`. The display name is dropped.
    #[must_use]
    pub fn masked(&self) -> String {
        let first = self.user().chars().next().unwrap_or('?');
        format!("{first}***@{}", self.domain())
    }

    /// The lettre mailbox this address wraps.
    #[must_use]
    pub fn as_mailbox(&self) -> &Mailbox {
        &self.0
    }

    /// Characters of the display name that must not reach a header, if any
    /// (always `None` for addresses built through this type's constructors).
    pub(crate) fn name_problem(&self) -> Option<&'static str> {
        self.name().and_then(forbidden_control)
    }
}

/// The two shapes nearly every address has, `user@domain` and `Words <user@domain>` (the name
/// ASCII letters and digits in words one space apart, the addr-spec ASCII dot-atoms), read by
/// hand. lettre's general RFC 5322 parser (nom, quoted strings, comments, obsolete forms) costs
/// a worker more than decoding the rest of a job; for these shapes it yields exactly these
/// parts, and the addr-spec goes through the same check (`lettre::Address::new`). `None` for
/// anything else, which the general parser reads.
fn plain_mailbox(input: &str) -> Option<Mailbox> {
    let (name, spec) = match input.strip_suffix('>') {
        Some(rest) => {
            let (name, spec) = rest.split_once(" <")?;
            let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric());
            if !name.split(' ').all(word) {
                return None;
            }
            (Some(name), spec)
        }
        None => (None, input),
    };
    let (user, domain) = spec.split_once('@')?;
    let dot_atom = |part: &str, extra: &[u8]| {
        part.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        })
    };
    if !dot_atom(user, b"_+-") || !dot_atom(domain, b"-") {
        return None;
    }
    let email = lettre::Address::new(user, domain).ok()?;
    Some(Mailbox::new(name.map(str::to_owned), email))
}

/// A more specific reason than the mailbox parser's "Invalid input": the
/// verdict on the addr-spec alone, when that is what is wrong.
fn explain(input: &str) -> String {
    let spec = match (input.find('<'), input.rfind('>')) {
        (Some(open), Some(close)) if open < close => &input[open + 1..close],
        (None, None) => input.trim(),
        _ => return "unbalanced angle brackets".into(),
    };
    match spec.parse::<lettre::Address>() {
        Err(e) => lowercase_first(&e.to_string()),
        Ok(_) => "not a single mailbox like `user@example.com` or `Name <user@example.com>`".into(),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

impl From<Address> for Mailbox {
    fn from(address: Address) -> Self {
        address.0
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl JsonSchema for Address {
    fn schema_name() -> Cow<'static, str> {
        "Address".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Address").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An RFC 5322 mailbox: a bare addr-spec or a display name followed by the addr-spec in angle brackets. The display name may contain non-ASCII text but no control characters.",
            "type": "string",
            "minLength": 3,
            "examples": ["jane@example.com", "Jane Doe <jane@example.com>"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_and_named() {
        let bare = Address::parse("bob@example.com").unwrap();
        assert_eq!(bare.name(), None);
        assert_eq!(bare.to_string(), "bob@example.com");

        let named = Address::parse("\"Doe, John\" <john@example.com>").unwrap();
        assert_eq!(named.name(), Some("Doe, John"));
        assert_eq!(named.to_string(), "\"Doe, John\" <john@example.com>");
    }

    #[test]
    fn display_parses_back_equal() {
        for input in [
            "bob@example.com",
            "<bob@example.com>",
            "  Bob   <bob@example.com>  ",
            "Zoë Déjà-vu <zoe@example.com>",
            "\"Quote \\\" and \\\\ back\" <q@example.com>",
            "\"Doe, John\" <john@example.com>",
            "\"  \" <blank@example.com>",
            "Agent 99 <a@example.com>",
        ] {
            let a = Address::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let again = Address::parse(&a.to_string()).unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(a, again, "{input} -> {a}");
        }
    }

    /// The hand-read shapes give what lettre's parser gives.
    #[test]
    fn plain_shapes_parse_as_the_general_parser_does() {
        for input in [
            "bob@example.com",
            "Customer 7 <customer7@example.org>",
            "Agent 99 <a.b+tag@mail.example-shop.com>",
            "first.last-x_y@sub.example.co.uk",
            "UPPER Case <MiXeD@Example.COM>",
            "x@localhost",
        ] {
            let plain = plain_mailbox(input).unwrap_or_else(|| panic!("{input}: not plain"));
            assert_eq!(Some(plain), input.parse::<Mailbox>().ok(), "{input}");
        }
        for other in [
            " bob@example.com",
            "Bob  Two <b@example.com>",
            "Bob <b@example.com> ",
            "Zoë <zoe@example.com>",
            "\"Doe, John\" <john@example.com>",
            "<bob@example.com>",
            "a..b@example.com",
            ".a@example.com",
            "a@example..com",
            "a@b@example.com",
            "Bob <b@example.com>>",
        ] {
            assert_eq!(plain_mailbox(other), None, "{other}");
        }
    }

    proptest::proptest! {
        /// Any input of the plain alphabet reads alike both ways, refusals included.
        #[test]
        fn plain_reading_agrees_with_lettre(input in "([A-Za-z0-9]{1,4}( [A-Za-z0-9]{0,3}){0,2} <)?[A-Za-z0-9._+-]{0,8}@[A-Za-z0-9.-]{0,10}>?") {
            if let Some(plain) = plain_mailbox(&input) {
                proptest::prop_assert_eq!(Some(plain), input.parse::<Mailbox>().ok());
            }
        }
    }

    #[test]
    fn refuses_bad_input() {
        for input in [
            "",
            "bob@",
            "@example.com",
            "bob",
            "bob@example.com, eve@example.com",
            "bob@example.com trailing",
            "Bob <bob@example.com",
            "\"Evil\r\nBcc: x@example.com\" <a@example.com>",
        ] {
            assert!(Address::parse(input).is_err(), "{input:?} parsed");
        }
    }

    #[test]
    fn new_refuses_control_characters_in_the_name() {
        let err = Address::new(Some("Evil\r\nBcc: x@example.com"), "a@example.com").unwrap_err();
        assert!(err.to_string().contains("control character"), "{err}");
        assert!(Address::new(Some("Nul\0"), "a@example.com").is_err());
        let ok = Address::new(Some(" Ann "), "ann@example.com").unwrap();
        assert_eq!(ok.to_string(), "Ann <ann@example.com>");
        assert_eq!(
            Address::new(Some(""), "ann@example.com").unwrap().name(),
            None
        );
    }

    #[test]
    fn names_keep_the_form_they_parse_back_to() {
        // Parsing reads a run of white space in a name as one space, so a
        // name built with one would change on its way through JSON.
        let a = Address::new(Some("Tab\there  and  there"), "t@example.com").unwrap();
        assert_eq!(a.name(), Some("Tab here and there"));
        assert_eq!(Address::parse(&a.to_string()).unwrap(), a);
        let quoted = Address::parse("\"Doe,\t  Jane\" <jane@example.com>").unwrap();
        assert_eq!(quoted.name(), Some("Doe, Jane"));
    }

    #[test]
    fn masked_keeps_first_char_and_domain() {
        let a = Address::parse("Émile <émile@example.org>").unwrap();
        assert_eq!(a.masked(), "é***@example.org");
    }

    #[test]
    fn serde_is_the_string_form() {
        let a = Address::parse("Jane <jane@example.com>").unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"Jane <jane@example.com>\"");
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        let err = serde_json::from_str::<Address>("\"bob@\"").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid address \"bob@\""),
            "{err}"
        );
    }
}
