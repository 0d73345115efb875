//! Caller text quoted into error messages, cut to [`MAX_QUOTED_CHARS`]: errors reach logs and
//! a job's `last_error`, and a hostile producer must not be able to fill either with one field.

/// Most characters of one field an error message quotes; the rest is replaced by a count.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `text` cut to [`MAX_QUOTED_CHARS`] characters, with `…(N more characters)` when cut.
pub(crate) fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => {
            let more = text[end..].chars().count();
            format!("{}…({more} more characters)", &text[..end])
        }
    }
}

/// `text` as a quoted, escaped string (`{:?}`), of at most [`MAX_QUOTED_CHARS`] characters of
/// the original.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => {
            let more = text[end..].chars().count();
            format!("{:?}…({more} more characters)", &text[..end])
        }
    }
}

/// A message with every quoted run (between `"` or between backticks) cut to
/// [`MAX_QUOTED_CHARS`] characters, and the whole cut to four times that.
pub(crate) fn clip_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_QUOTED_CHARS + 64));
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        let (mut kept, mut dropped, mut escaped) = (0usize, 0usize, false);
        for inner in chars.by_ref() {
            let closes = inner == c && !escaped;
            escaped = inner == '\\' && !escaped;
            if closes {
                break;
            }
            if kept < MAX_QUOTED_CHARS {
                out.push(inner);
                kept += 1;
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            out.push_str("…(");
            out.push_str(&dropped.to_string());
            out.push_str(" more characters)");
        }
        out.push(c);
    }
    cut_to(&out, 4 * MAX_QUOTED_CHARS)
}

fn cut_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quotes_are_cut_and_short_ones_kept() {
        let long = "x".repeat(10_000);
        let message = format!("invalid address \"{long}\": missing @; field `{long}`");
        let clipped = clip_quoted(&message);
        assert!(clipped.len() < 700, "{}", clipped.len());
        assert!(clipped.contains("(9800 more characters)"), "{clipped}");
        assert_eq!(
            clip_quoted("expected `a`, found \"b\""),
            "expected `a`, found \"b\""
        );
        assert_eq!(quote("ab"), "\"ab\"");
        assert!(quote(&long).ends_with("(9800 more characters)"));
        assert_eq!(
            cut(&long).chars().filter(|c| *c == 'x').count(),
            MAX_QUOTED_CHARS
        );
    }
}
