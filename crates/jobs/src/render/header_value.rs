//! A header value that lettre's encoder would write as it is, made without running it.
//!
//! `HeaderValue::new` walks the value word by word through email-encoding's folding writer,
//! which changes a value only where a character needs an encoded word or a line needs a fold.
//! A short value of plain characters, such as a `Message-ID` or most subjects, comes out as
//! it went in; here it is taken as it is (the proptest below holds the two side by side).

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

/// The bytes lettre's header encoder writes as they are (any other makes it encode the
/// word): ASCII but NUL, LF and CR.
fn written_as_is(b: u8) -> bool {
    b.is_ascii() && !matches!(b, 0 | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use lettre::message::header::{HeaderName, HeaderValue, Headers};

    use super::header_value;

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
}
