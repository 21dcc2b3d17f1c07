//! The compose helpers' tests: checking, building (for sending and as
//! a draft), replies and forwards.

use crate::compose::*;

#[test]
fn a_forward_reads_in_the_writers_language() {
    let fr = forward_header(
        app::i18n::Lang::Fr,
        "Paul <p@remote.test>",
        "1 déc. 2026",
        "Devis",
        "alice@example.test",
        "",
        "Bonjour.",
    );
    assert_eq!(
        fr,
        "\n\n---------- Message transféré ----------\nDe : Paul <p@remote.test>\n\
         Date : 1 déc. 2026\nObjet : Devis\nÀ : alice@example.test\n\nBonjour."
    );
    let en = forward_header(app::i18n::Lang::En, "p@x", "d", "s", "t", "c@x", "b");
    assert!(en.starts_with("\n\n---------- Forwarded message ----------\nFrom: p@x\n"));
    assert!(en.contains("\nCc: c@x\n\nb"));
}
fn draft(to: &str, subject: &str) -> Draft {
    Draft {
        from: "alice@example.test".into(),
        to: to.into(),
        subject: subject.into(),
        body: "Hello\nworld".into(),
        ..Default::default()
    }
}
fn own() -> Vec<String> {
    vec!["alice@example.test".into(), "a.martin@example.test".into()]
}

#[test]
fn a_message_is_built_with_its_envelope() {
    let mut d = draft(
        "Bob <bob@example.test>, carol@remote.test",
        "Réunion — lundi",
    );
    d.cc = "dave@remote.test".into();
    d.bcc = "eve@remote.test; BOB@example.test".into();
    d.in_reply_to = Some("orig@remote.test".into());
    d.references = vec!["first@remote.test".into(), "orig@remote.test".into()];
    let b = build(&d, &own(), "Alice Martin", "mx.test", 50, 1 << 20).expect("built");
    assert_eq!(
        b.rcpts,
        [
            "bob@example.test",
            "carol@remote.test",
            "dave@remote.test",
            "eve@remote.test"
        ]
    );
    let text = String::from_utf8_lossy(&b.raw);
    assert!(
        text.contains("From: \"Alice Martin\" <alice@example.test>\r\n"),
        "{text}"
    );
    assert!(text.contains("=?utf-8?"), "RFC 2047 subject: {text}");
    assert!(text.contains("In-Reply-To: <orig@remote.test>"));
    assert!(text.contains("References: <first@remote.test> <orig@remote.test>"));
    assert!(
        !text.to_lowercase().contains("eve@remote.test"),
        "Bcc never in the message"
    );
    assert!(text.contains(&format!("Message-ID: <{}>", b.message_id)));
    let parsed = mail_parser::MessageParser::default()
        .parse(&b.raw)
        .expect("parses");
    assert_eq!(parsed.subject(), Some("Réunion — lundi"));
}

#[test]
fn nothing_typed_adds_a_header_or_a_recipient() {
    // (a line break in the To field separates addresses like a comma:
    // what is typed there is a recipient the user chose, never a header)
    for to in [
        "bob@example.test\r\nBcc: x@evil.test",
        "bob@example.test>\r\nX: y",
        "\"a\"@example.test",
        "bob@example.test\r",
    ] {
        let r = build(&draft(to, "hi"), &own(), "", "mx.test", 50, 1 << 20);
        match r {
            Err(ComposeError::BadAddress(_)) => {}
            Ok(b) => assert!(
                !String::from_utf8_lossy(&b.raw).contains("evil")
                    && b.rcpts.iter().all(|r| valid_address(r)),
                "{to:?}: {:?}",
                b.rcpts
            ),
            Err(e) => panic!("{to:?}: {e}"),
        }
    }
    for subject in ["hi\r\nBcc: x@evil.test", "hi\nX-Evil: 1", "a\u{0}b"] {
        assert_eq!(
            build(
                &draft("bob@example.test", subject),
                &own(),
                "",
                "mx.test",
                50,
                1 << 20
            ),
            Err(ComposeError::BadSubject)
        );
    }
    // a display name with a line break is flattened, never a header
    let b = build(
        &draft("bob@example.test", "x"),
        &own(),
        "Eve\r\nBcc: x@evil.test",
        "mx.test",
        50,
        1 << 20,
    )
    .expect("built");
    let text = String::from_utf8_lossy(&b.raw);
    assert!(!text.contains("\r\nBcc:"), "{text}");
    // threading ids with brackets or spaces are dropped
    let mut d = draft("bob@example.test", "x");
    d.in_reply_to = Some("a@b>\r\nBcc: <x@evil.test".into());
    let b = build(&d, &own(), "", "mx.test", 50, 1 << 20).expect("built");
    assert!(!String::from_utf8_lossy(&b.raw).contains("evil"));
}

#[test]
fn only_own_addresses_and_within_limits() {
    let mut d = draft("bob@example.test", "x");
    d.from = "ceo@example.test".into();
    assert_eq!(
        build(&d, &own(), "", "mx.test", 50, 1 << 20),
        Err(ComposeError::NotYourAddress)
    );
    d.from = "A.Martin@example.test".into();
    assert!(
        build(&d, &own(), "", "mx.test", 50, 1 << 20).is_ok(),
        "an alias"
    );
    assert_eq!(
        build(&draft("", "x"), &own(), "", "mx.test", 50, 1 << 20),
        Err(ComposeError::NoRecipient)
    );
    let many: Vec<String> = (0..6).map(|i| format!("u{i}@remote.test")).collect();
    assert_eq!(
        build(
            &draft(&many.join(","), "x"),
            &own(),
            "",
            "mx.test",
            5,
            1 << 20
        ),
        Err(ComposeError::TooMany(6, 5))
    );
    let mut big = draft("bob@example.test", "x");
    big.body = "y".repeat(5000);
    assert!(matches!(
        build(&big, &own(), "", "mx.test", 5, 1000),
        Err(ComposeError::TooLarge(_, 1000))
    ));
}

#[test]
fn forwarded_attachments_travel_byte_for_byte() {
    let pdf = b"%PDF-1.4\n\x00\x01binary".to_vec();
    let mut d = draft("bob@example.test", "Fwd: report");
    d.attachments = vec![Attachment {
        content_type: "application/pdf".into(),
        name: "report.pdf".into(),
        data: pdf.clone(),
    }];
    let b = build(&d, &own(), "", "mx.test", 5, 1 << 20).expect("built");
    let back = attachments_of(&b.raw);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].name, "report.pdf");
    assert_eq!(back[0].content_type, "application/pdf");
    assert_eq!(back[0].data, pdf);
    assert!(matches!(
        build(&d, &own(), "", "mx.test", 5, 10),
        Err(ComposeError::TooLarge(..))
    ));
}

#[test]
fn replies_and_forwards() {
    assert_eq!(reply_subject("Lunch"), "Re: Lunch");
    assert_eq!(reply_subject("RE: Lunch"), "RE: Lunch");
    assert_eq!(forward_subject("Lunch"), "Fwd: Lunch");
    assert_eq!(forward_subject("Fw: Lunch"), "Fw: Lunch");
    assert_eq!(
        quote("Bob wrote:", "one\n\ntwo"),
        "\n\nBob wrote:\n> one\n>\n> two\n"
    );
}

#[test]
fn a_draft_is_built_from_whatever_was_typed() {
    let d = Draft {
        from: "Alice@Example.test".into(),
        to: "\"Bob B.\" <bob@example.test>, bo".into(),
        cc: "".into(),
        bcc: "carol@example.test".into(),
        subject: "Plan\r\nBcc: evil@x.test".into(),
        body: "line 1\r\nline 2".into(),
        ..Draft::default()
    };
    let raw = String::from_utf8(build_draft(&d, "Alice", "mx.example.test")).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(
        head.contains("From: \"Alice\" <alice@example.test>"),
        "{head}"
    );
    assert!(head.contains("To: \"Bob B.\" <bob@example.test>"), "{head}");
    assert!(head.contains("Bcc: <carol@example.test>"), "{head}");
    assert!(!head.contains("\r\nCc:"), "{head}");
    assert!(
        !raw.contains("\nbo") && !raw.contains("<bo>"),
        "half an address is left out: {raw}"
    );
    // a line break typed in the subject adds no header
    assert!(!head.contains("\r\nBcc: evil"), "{head}");
    assert!(raw.contains("line 1\r\nline 2"), "{raw}");
    // nothing typed at all is still a message
    let empty = build_draft(&Draft::default(), "", "mx.example.test");
    assert!(String::from_utf8_lossy(&empty).contains("Message-ID: <"));
}
