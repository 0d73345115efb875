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
        if let Some(plain) = plain_mailbox(input) {
            return Ok(Self(plain));
        }
        let mailbox = input
            .parse()
            .map_err(|_| AddressError::new(input, explain(input)))?;
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

/// Characters besides letters and digits that [`plain_mailbox`] reads in a quoted name: all of
/// them stand for themselves inside a quoted string.
const QUOTED_PUNCTUATION: &[u8] = b".,'-_&()!#$%*+/=?^`{|}~:;@[]";

/// The shapes nearly every address has, `user@domain`, `Words <user@domain>` and
/// `"Words" <user@domain>` (the name ASCII letters and digits in words one space apart, or
/// quoted, which also allows the punctuation in [`QUOTED_PUNCTUATION`]; the addr-spec ASCII
/// dot-atoms), read by hand. The quoted form matters: lettre writes a name with a `9` or a
/// `.` quoted, and decoding a stored job reads it back. lettre's general RFC 5322 parser
/// (nom, quoted strings, comments, obsolete forms) costs a worker more than decoding the rest
/// of a job; for these shapes it yields exactly these parts, the addr-spec goes through the
/// same check (`lettre::Address::new`'s), and the name is already in the form
/// [`Address::from_mailbox`] would give it. `None` for anything else, which the general
/// parser reads.
fn plain_mailbox(input: &str) -> Option<Mailbox> {
    let (name, spec) = match input.strip_suffix('>') {
        Some(rest) => {
            let (name, spec) = rest.split_once(" <")?;
            let (name, extra) = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                Some(inner) => (inner, QUOTED_PUNCTUATION),
                None => (name, &b""[..]),
            };
            let word = |w: &str| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
            };
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
    // The whole spec is checked as `lettre::Address::new` checks its parts, without
    // formatting them back together. The name is already in the form `from_mailbox` gives.
    let email = lettre::Address::try_from(spec.to_owned()).ok()?;
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
mod tests;
