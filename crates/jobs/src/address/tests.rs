//! Tests of [`Address`]: parsing, the hand-read shapes against lettre's parser, names, masking
//! and the JSON form.

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

/// The hand-read shapes give what lettre's parser (and the name's normalisation) gives.
#[test]
fn plain_shapes_parse_as_the_general_parser_does() {
    for input in [
        "bob@example.com",
        "Customer 7 <customer7@example.org>",
        "Agent 99 <a.b+tag@mail.example-shop.com>",
        "first.last-x_y@sub.example.co.uk",
        "UPPER Case <MiXeD@Example.COM>",
        "x@localhost",
        "\"Customer 9\" <customer9@example.org>",
        "\"Doe, John\" <john@example.com>",
        "\"J. O'Neil (Sales) & Co.\" <j@example.com>",
    ] {
        let plain = plain_mailbox(input).unwrap_or_else(|| panic!("{input}: not plain"));
        let general: Mailbox = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(plain, general, "{input}");
        assert_eq!(
            Address::parse(input).ok(),
            Address::from_mailbox(general).ok(),
            "{input}"
        );
    }
    for other in [
        " bob@example.com",
        "Bob  Two <b@example.com>",
        "Bob <b@example.com> ",
        "Zoë <zoe@example.com>",
        "\"Doe,  John\" <john@example.com>",
        "\" Doe\" <john@example.com>",
        "\"\" <john@example.com>",
        "\"Say \\\"hi\\\"\" <john@example.com>",
        "\"a <b>\" <john@example.com>",
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

    /// So does a quoted name of any of the characters read in one, and the address is the
    /// one the general path gives.
    #[test]
    fn quoted_names_read_alike(input in "\"[A-Za-z0-9 .,'&()!#$%*+/=?^`{|}~:;@\\[\\]_-]{0,8}\" <[a-z0-9.]{1,5}@[a-z.]{1,5}>") {
        if let Some(plain) = plain_mailbox(&input) {
            let general = input.parse::<Mailbox>().ok();
            proptest::prop_assert_eq!(Some(&plain), general.as_ref());
            proptest::prop_assert_eq!(
                Address::parse(&input).ok(),
                general.and_then(|m| Address::from_mailbox(m).ok())
            );
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
