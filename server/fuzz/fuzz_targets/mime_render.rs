//! A stored message as every reader sees it: the summary kept at ingest,
//! the webmail's reading (headers, parts, attachments, inline images by
//! Content-ID, the sanitized HTML body), and IMAP's part tree, ENVELOPE,
//! BODYSTRUCTURE and sections. Property: never panics, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::imap::{fetch, mime};
use server::store::Summary;
use server::web::render;

fuzz_target!(|raw: &[u8]| {
    let s = Summary::parse(raw);
    let _ = (s.subject.len(), s.text.len());
    let r = render::render(raw);
    let _ = format!("{r:?}").len();
    for i in 0..4 {
        let _ = render::part(raw, i);
    }
    let _ = render::part_by_cid(raw, "logo@x");
    let _ = render::html_body(raw, "/mail/m/1/cid/", false);
    let tree = mime::tree(raw);
    let _ = tree.lines(raw);
    let _ = fetch::envelope(&raw[..mime::header_end(raw).min(raw.len())]);
    let _ = fetch::structure(raw, &tree, true);
    for path in [&[][..], &[1][..], &[1, 1][..], &[2][..], &[2, 1, 3][..]] {
        if let Some(n) = tree.part(path) {
            let _ = n.lines(raw);
        }
    }
    let _ = fetch::section(raw, &tree, None);
});
