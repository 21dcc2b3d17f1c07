//! Words that cross the wire as codes, shared by the server and the
//! pages: why a Control Panel form was refused ([`Refusal`]) and why a
//! domain's continuity state changed ([`Reason`]). Each has an English
//! `Display` for logs, the CLI and what is stored; `i18n::words` says it
//! in the viewer's language.

/// Why a Control Panel form was refused. Handlers redirect with it in the
/// query (`why=` [`Refusal::code`], once per refusal); the page says it in
/// the viewer's language (`i18n::refusal_text`) and keeps any technical
/// detail (`detail=`) behind a disclosure. `Display` is the English text
/// for logs and the store's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The directory's sync interval is not a whole number of minutes ≥ 1.
    DirectoryInterval,
    /// The disable guard is not a percentage from 0 to 100.
    DirectoryGuard,
    /// The bind password file cannot be read by the service.
    DirectoryPasswordFile(String),
    /// The URL is neither ldap:// nor ldaps://.
    DirectoryUrl,
    /// StartTLS asked on an ldaps:// URL.
    DirectoryStartTls,
    /// Plain LDAP without StartTLS, which only an operator may allow.
    DirectoryPlaintext,
    DirectoryBaseDn,
    /// The user filter is not an LDAP filter in parentheses.
    DirectoryFilter,
    /// The kind is not openldap or ad.
    DirectoryKind,
    /// A contact attribute's name is not an LDAP attribute name.
    DirectoryAttribute,
    /// Not an IP address or network.
    NotANetwork(String),
    /// Broader than the most a domain's server may relay from.
    NetworkTooBroad(String),
    /// A local, private-to-the-service, multicast or reserved network.
    NetworkReserved(String),
    TooManyNetworks,
    /// A DKIM algorithm other than RSA or Ed25519.
    DkimAlgorithm,
    /// The key could not be made (detail aside).
    DkimKeygen,
    /// No key signs (nothing to stop).
    DkimNoneSigns,
    /// No key with this selector.
    DkimNoSuchKey(String),
    /// Not a DKIM selector (letters, digits, '-' and '.').
    DkimSelector(String),
    /// The selector names another key of this domain already.
    DkimSelectorTaken(String),
    /// The key that signs cannot be deleted.
    DkimKeySigns(String),
    /// Another domain's server relays from this network.
    NetworkTaken(String),
    /// The database did not answer: nothing changed.
    Unavailable,
    /// What the form names is not there (any more).
    NotFound,
    /// A form this page does not send.
    UnknownAction,
    /// A webhook address that is not https:// with a public host name.
    WebhookUrl,
    /// A webhook host that resolves to an address the service may not post to.
    WebhookAddress(String),
    /// A host name that resolves to no address.
    HostUnresolved(String),
}

impl Refusal {
    /// The form `why=` takes: a code, and after a colon its value if any.
    pub fn code(&self) -> String {
        let with = |c: &str, v: &str| format!("{c}:{v}");
        match self {
            Refusal::DirectoryInterval => "interval".into(),
            Refusal::DirectoryGuard => "guard".into(),
            Refusal::DirectoryPasswordFile(f) => with("password-file", f),
            Refusal::DirectoryUrl => "url".into(),
            Refusal::DirectoryStartTls => "starttls".into(),
            Refusal::DirectoryPlaintext => "plaintext".into(),
            Refusal::DirectoryBaseDn => "base-dn".into(),
            Refusal::DirectoryFilter => "filter".into(),
            Refusal::DirectoryKind => "kind".into(),
            Refusal::DirectoryAttribute => "attribute".into(),
            Refusal::NotANetwork(n) => with("not-network", n),
            Refusal::NetworkTooBroad(n) => with("too-broad", n),
            Refusal::NetworkReserved(n) => with("reserved", n),
            Refusal::TooManyNetworks => "too-many".into(),
            Refusal::DkimAlgorithm => "algorithm".into(),
            Refusal::DkimKeygen => "keygen".into(),
            Refusal::DkimNoneSigns => "none-signs".into(),
            Refusal::DkimNoSuchKey(s) => with("no-key", s),
            Refusal::DkimSelector(s) => with("selector", s),
            Refusal::DkimSelectorTaken(s) => with("selector-taken", s),
            Refusal::DkimKeySigns(s) => with("key-signs", s),
            Refusal::NetworkTaken(n) => with("network-taken", n),
            Refusal::Unavailable => "unavailable".into(),
            Refusal::NotFound => "not-found".into(),
            Refusal::UnknownAction => "action".into(),
            Refusal::WebhookUrl => "webhook-url".into(),
            Refusal::WebhookAddress(h) => with("webhook-address", h),
            Refusal::HostUnresolved(h) => with("unresolved", h),
        }
    }

    /// The refusal a `why=` value names; `None` for anything else (a page
    /// shows nothing it does not know rather than the raw value).
    pub fn parse(code: &str) -> Option<Refusal> {
        let (c, v) = match code.split_once(':') {
            Some((c, v)) => (c, Some(v.to_string())),
            None => (code, None),
        };
        Some(match (c, v) {
            ("interval", None) => Refusal::DirectoryInterval,
            ("guard", None) => Refusal::DirectoryGuard,
            ("password-file", Some(f)) => Refusal::DirectoryPasswordFile(f),
            ("url", None) => Refusal::DirectoryUrl,
            ("starttls", None) => Refusal::DirectoryStartTls,
            ("plaintext", None) => Refusal::DirectoryPlaintext,
            ("base-dn", None) => Refusal::DirectoryBaseDn,
            ("filter", None) => Refusal::DirectoryFilter,
            ("attribute", None) => Refusal::DirectoryAttribute,
            ("kind", None) => Refusal::DirectoryKind,
            ("not-network", Some(n)) => Refusal::NotANetwork(n),
            ("too-broad", Some(n)) => Refusal::NetworkTooBroad(n),
            ("reserved", Some(n)) => Refusal::NetworkReserved(n),
            ("too-many", None) => Refusal::TooManyNetworks,
            ("algorithm", None) => Refusal::DkimAlgorithm,
            ("keygen", None) => Refusal::DkimKeygen,
            ("none-signs", None) => Refusal::DkimNoneSigns,
            ("no-key", Some(s)) => Refusal::DkimNoSuchKey(s),
            ("selector", Some(s)) => Refusal::DkimSelector(s),
            ("selector-taken", Some(s)) => Refusal::DkimSelectorTaken(s),
            ("key-signs", Some(s)) => Refusal::DkimKeySigns(s),
            ("network-taken", Some(n)) => Refusal::NetworkTaken(n),
            ("unavailable", None) => Refusal::Unavailable,
            ("not-found", None) => Refusal::NotFound,
            ("action", None) => Refusal::UnknownAction,
            ("webhook-url", None) => Refusal::WebhookUrl,
            ("webhook-address", Some(h)) => Refusal::WebhookAddress(h),
            ("unresolved", Some(h)) => Refusal::HostUnresolved(h),
            _ => return None,
        })
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::DirectoryInterval => {
                f.write_str("the interval is a whole number of minutes, at least 1")
            }
            Refusal::DirectoryGuard => {
                f.write_str("the disable guard is a percentage from 0 to 100")
            }
            Refusal::DirectoryPasswordFile(p) => write!(f, "the service cannot read {p}"),
            Refusal::DirectoryUrl => {
                f.write_str("the directory URL starts with ldap:// or ldaps://")
            }
            Refusal::DirectoryStartTls => {
                f.write_str("StartTLS is for ldap:// URLs (ldaps:// is TLS already)")
            }
            Refusal::DirectoryPlaintext => f.write_str(
                "a plain ldap:// URL without StartTLS would send the bind password in clear: \
                 use ldaps:// or StartTLS (only an operator can allow plain LDAP)",
            ),
            Refusal::DirectoryBaseDn => f.write_str("the base DN is required"),
            Refusal::DirectoryFilter => {
                f.write_str("the user filter is an LDAP filter in parentheses, e.g. (mail=*)")
            }
            Refusal::DirectoryKind => f.write_str("the kind is openldap or ad"),
            Refusal::DirectoryAttribute => f.write_str(
                "an attribute is named with letters, digits and dashes, e.g. mobile (or left empty)",
            ),
            Refusal::NotANetwork(n) => write!(
                f,
                "{n:?} is not an IP address or network (e.g. 192.0.2.10 or 192.0.2.0/24)"
            ),
            Refusal::NetworkTooBroad(n) => {
                write!(f, "{n} is too broad: at most a /24 (IPv4) or a /56 (IPv6)")
            }
            Refusal::NetworkReserved(n) => write!(
                f,
                "{n} is a local or reserved network: no domain's server relays from there"
            ),
            Refusal::TooManyNetworks => f.write_str("too many networks"),
            Refusal::DkimAlgorithm => f.write_str("choose RSA or Ed25519"),
            Refusal::DkimKeygen => f.write_str("the key could not be made"),
            Refusal::DkimNoneSigns => f.write_str("no key signs"),
            Refusal::DkimNoSuchKey(s) => write!(f, "no key with selector {s}"),
            Refusal::DkimSelector(s) => write!(
                f,
                "{s:?} is not a DKIM selector (letters, digits, '-', '.')"
            ),
            Refusal::DkimSelectorTaken(s) => write!(
                f,
                "selector {s} is already used for this domain; choose another \
                 (a selector names one key for good)"
            ),
            Refusal::DkimKeySigns(s) => write!(
                f,
                "{s} is the key that signs: use another or turn signing off first"
            ),
            Refusal::NetworkTaken(n) => write!(f, "{n} is already used by another domain's server"),
            Refusal::Unavailable => f.write_str("the store is unavailable; nothing was changed"),
            Refusal::NotFound => f.write_str("not found"),
            Refusal::UnknownAction => f.write_str("unknown action"),
            Refusal::WebhookUrl => {
                f.write_str("the webhook is an https:// address with a host name")
            }
            Refusal::WebhookAddress(h) => write!(
                f,
                "{h} is not a public address: the service does not post there"
            ),
            Refusal::HostUnresolved(h) => write!(f, "{h} does not resolve to an address"),
        }
    }
}

/// Why the continuity state changed. Stored (and sent in webhooks and
/// logs) as its English text ([`std::fmt::Display`]); read back with
/// [`Reason::parse`] so the Control Panel says it in the viewer's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Probes or deliveries failed `n` times in a row; the last one's
    /// technical detail.
    Failures {
        n: u32,
        last: String,
    },
    /// `n` probes in a row succeeded.
    Successes {
        n: u32,
    },
    ActivatedBy(String),
    EndedBy(String),
    DrillStartedBy(String),
    DrillEndedBy(String),
    HeldMailDelivered,
    DrillOver,
    /// A text from elsewhere (an older version): shown as it is.
    Other(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Failures { n, last } => write!(f, "{n} consecutive failures; last: {last}"),
            Reason::Successes { n } => write!(f, "{n} consecutive successful probes"),
            Reason::ActivatedBy(by) => write!(f, "activated by {by}"),
            Reason::EndedBy(by) => write!(f, "ended by {by}"),
            Reason::DrillStartedBy(by) => write!(f, "drill started by {by}"),
            Reason::DrillEndedBy(by) => write!(f, "drill ended by {by}"),
            Reason::HeldMailDelivered => f.write_str("held mail delivered"),
            Reason::DrillOver => f.write_str("drill time is over"),
            Reason::Other(text) => f.write_str(text),
        }
    }
}

impl Reason {
    /// The reason a stored text says (the inverse of its `Display`).
    pub fn parse(text: &str) -> Reason {
        let count = |s: &str| s.parse::<u32>().ok();
        if let Some((n, last)) = text.split_once(" consecutive failures; last: ") {
            if let Some(n) = count(n) {
                return Reason::Failures {
                    n,
                    last: last.to_string(),
                };
            }
        }
        if let Some(n) = text
            .strip_suffix(" consecutive successful probes")
            .and_then(count)
        {
            return Reason::Successes { n };
        }
        let by = |prefix: &str| text.strip_prefix(prefix).map(str::to_string);
        if let Some(b) = by("activated by ") {
            return Reason::ActivatedBy(b);
        }
        if let Some(b) = by("ended by ") {
            return Reason::EndedBy(b);
        }
        if let Some(b) = by("drill started by ") {
            return Reason::DrillStartedBy(b);
        }
        if let Some(b) = by("drill ended by ") {
            return Reason::DrillEndedBy(b);
        }
        match text {
            "held mail delivered" => Reason::HeldMailDelivered,
            "drill time is over" => Reason::DrillOver,
            _ => Reason::Other(text.to_string()),
        }
    }
}

#[cfg(test)]
mod reason_tests {
    use super::Reason;

    #[test]
    fn every_reason_reads_back_from_its_stored_text() {
        for r in [
            Reason::Failures {
                n: 2,
                last: "connect/banner/EHLO: Connection error: refused; last: x".into(),
            },
            Reason::Successes { n: 3 },
            Reason::ActivatedBy("admin@example.test".into()),
            Reason::EndedBy("ops@continuity.test".into()),
            Reason::DrillStartedBy("admin@example.test".into()),
            Reason::DrillEndedBy("admin@example.test".into()),
            Reason::HeldMailDelivered,
            Reason::DrillOver,
            Reason::Other("something else".into()),
        ] {
            assert_eq!(Reason::parse(&r.to_string()), r, "{r}");
        }
        assert_eq!(
            Reason::parse("many consecutive failures; last: x"),
            Reason::Other("many consecutive failures; last: x".into())
        );
    }
}
