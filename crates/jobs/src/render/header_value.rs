//! A header value that lettre's encoder would write as it is, made without running it.
//!
//! `HeaderValue::new` walks the value word by word through email-encoding's folding writer,
//! which changes a value only where a character needs an encoded word or a line needs a fold.
//! A short value of plain characters, such as a `Message-ID` or most subjects, comes out as
//! it went in; here it is taken as it is. The same holds for a short `From` or `To` of plain
//! names: lettre writes each as the name (quoted when it has a space), then `<address>`, and
//! formats the list a second time for the header's raw value. The proptests below hold each
//! side by side with lettre's own.

use lettre::message::Mailbox;
use lettre::message::header::{HeaderName, HeaderValue};

/// The longest line email-encoding's folding writer leaves as it is.
const FOLD_AFTER: usize = 76;

/// `HeaderValue::new(name, value)`, byte for byte.
pub(super) fn header_value(name: HeaderName, value: String) -> HeaderValue {
    if name.len() + ": ".len() + value.len() <= FOLD_AFTER && value.bytes().all(written_as_is) {
        return HeaderValue::dangerous_new_pre_encoded(name, value.clone(), value);
    }
    HeaderValue::new(name, value)
}

/// The header lettre's `Mailboxes` header `name` makes of `mailboxes`, byte for byte, when it
/// is short and every name plain: letters, digits, `-`, `_` and inner spaces. `None` for any
/// other, to be made by lettre.
pub(super) fn mailboxes_value<'a>(
    name: HeaderName,
    mailboxes: impl IntoIterator<Item = &'a Mailbox>,
) -> Option<HeaderValue> {
    let (mut encoded, mut raw) = (String::with_capacity(FOLD_AFTER), String::new());
    for (i, mailbox) in mailboxes.into_iter().enumerate() {
        if i > 0 {
            encoded.push_str(", ");
            raw.push_str(", ");
        }
        let email: &str = mailbox.email.as_ref();
        if !email.bytes().all(|b| written_as_is(b) && b != b'"') {
            return None;
        }
        match mailbox.name.as_deref() {
            None => {
                encoded.push_str(email);
                raw.push_str(email);
            }
            Some(n) if plain_name(n) => {
                // email-encoding quotes a name with a space; lettre's `Display` one with a
                // `9`, which its list of atom characters leaves out.
                let (q, r) = (quote_if(n.contains(' ')), quote_if(n.contains('9')));
                encoded.extend([q, n, q, " <", email, ">"]);
                raw.extend([r, n, r, " <", email, ">"]);
            }
            Some(_) => return None,
        }
    }
    if name.len() + ": ".len() + encoded.len() > FOLD_AFTER {
        return None;
    }
    Some(HeaderValue::dangerous_new_pre_encoded(name, raw, encoded))
}

/// A double quote when `quoted`, else nothing.
fn quote_if(quoted: bool) -> &'static str {
    if quoted { "\"" } else { "" }
}

/// A display name email-encoding writes as it is or quoted without escapes, and lettre's
/// `Display` as it is: letters, digits, `-` and `_`, with single spaces between words.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && !name.contains("  ")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_'))
}

/// The bytes lettre's header encoder writes as they are (any other makes it encode the
/// word): ASCII but NUL, LF and CR.
fn written_as_is(b: u8) -> bool {
    b.is_ascii() && !matches!(b, 0 | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use lettre::message::header::{self, Header, HeaderName, HeaderValue, Headers};
    use lettre::message::{Mailbox, Mailboxes};

    use super::{header_value, mailboxes_value};

    fn written(value: HeaderValue) -> String {
        let mut headers = Headers::new();
        headers.insert_raw(value);
        headers.to_string()
    }

    proptest::proptest! {
        /// Whatever the value, the header is written as lettre writes it.
        #[test]
        fn the_header_is_lettres_own(
            name in "(Subject|Message-ID|X-A)",
            value in "([a-zA-Z0-9<>@.#]{0,30}| |  |\t|é|\r\n|\0|=\\?){0,12}",
        ) {
            let ours = header_value(HeaderName::new_from_ascii(name.clone()).unwrap(), value.clone());
            let theirs = HeaderValue::new(HeaderName::new_from_ascii(name).unwrap(), value);
            proptest::prop_assert_eq!(written(ours), written(theirs));
        }
    }

    proptest::proptest! {
        /// A `To` of one or more mailboxes, named or not, is lettre's own (raw value too) when
        /// made here, and left to lettre otherwise.
        #[test]
        fn a_mailbox_list_is_lettres_own(
            list in proptest::collection::vec(
                (
                    proptest::option::of("([A-Za-z0-9_-]{1,12}| |  |\\.|é|\"){1,5}"),
                    "[a-z0-9]{1,12}(\\.[a-z0-9]{1,8})?@[a-z]{1,12}\\.(org|com)",
                ),
                1..4,
            ),
        ) {
            let mailboxes: Vec<Mailbox> = list
                .into_iter()
                .map(|(name, email)| Mailbox::new(name, email.parse().unwrap()))
                .collect();
            let theirs = header::To::from(Mailboxes::from_iter(mailboxes.clone())).display();
            if let Some(ours) = mailboxes_value(header::To::name(), &mailboxes) {
                let (mut a, mut b) = (Headers::new(), Headers::new());
                a.insert_raw(ours);
                b.insert_raw(theirs);
                proptest::prop_assert_eq!(a.to_string(), b.to_string());
                proptest::prop_assert_eq!(a.get_raw("To"), b.get_raw("To"));
            }
        }
    }

    #[test]
    fn usual_mailboxes_are_made_here() {
        let m: Mailbox = "Customer 7 <customer7@example.org>".parse().unwrap();
        let n: Mailbox = "noreply@example.com".parse().unwrap();
        let value = mailboxes_value(header::To::name(), [&m, &n]).expect("made here");
        let mut h = Headers::new();
        h.insert_raw(value);
        assert_eq!(
            h.to_string(),
            "To: \"Customer 7\" <customer7@example.org>, noreply@example.com\r\n"
        );
    }
}
