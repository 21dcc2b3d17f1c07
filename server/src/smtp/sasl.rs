//! SMTP AUTH (RFC 4954) exchanges for the submission listener: PLAIN
//! (RFC 4616) and LOGIN, pure (no I/O). The session feeds it the client's
//! lines; it answers with a challenge, the credentials, or a refusal.

use base64::Engine;

use super::reply::Reply;

/// Longest user name or password accepted.
const MAX_FIELD: usize = 1024;

/// Where an exchange stands after a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this `334` challenge (already base64) and wait for a line.
    Challenge(&'static str),
    /// The client gave these credentials.
    Credentials { user: String, password: String },
    /// Refused (bad encoding, cancelled…): answer this.
    Refused(Reply),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// PLAIN, waiting for the initial response.
    Plain,
    /// LOGIN, waiting for the user name.
    LoginUser,
    /// LOGIN, waiting for the password.
    LoginPassword(String),
}

/// An AUTH exchange in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    stage: Stage,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim().as_bytes())
        .ok()
}

fn bad_encoding() -> Reply {
    Reply::new(501, [5, 5, 2], "Invalid base64 data")
}

fn text(bytes: Vec<u8>) -> Option<String> {
    let s = String::from_utf8(bytes).ok()?;
    (s.len() <= MAX_FIELD && !s.chars().any(|c| c.is_control())).then_some(s)
}

/// RFC 4616 §2: [authzid] NUL authcid NUL passwd. An authorization
/// identity other than the user's own is refused (no acting as another).
fn plain(bytes: Vec<u8>) -> Step {
    let mut parts = bytes.split(|&b| b == 0);
    let (Some(authz), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Step::Refused(Reply::new(501, [5, 5, 2], "Malformed AUTH PLAIN response"));
    };
    let (Some(authz), Some(user), Some(password)) = (
        text(authz.to_vec()),
        text(user.to_vec()),
        text(pass.to_vec()),
    ) else {
        return Step::Refused(bad_encoding());
    };
    if user.is_empty() {
        return Step::Refused(Reply::new(501, [5, 5, 2], "Malformed AUTH PLAIN response"));
    }
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(&user) {
        return Step::Refused(Reply::new(
            535,
            [5, 7, 8],
            "Authentication credentials invalid",
        ));
    }
    Step::Credentials { user, password }
}

/// "VXNlcm5hbWU6" / "UGFzc3dvcmQ6": "Username:" / "Password:".
const USERNAME: &str = "VXNlcm5hbWU6";
const PASSWORD: &str = "UGFzc3dvcmQ6";

impl Exchange {
    /// `AUTH <mechanism> [initial-response]`.
    pub fn start(mechanism: &str, initial: Option<&str>) -> (Option<Exchange>, Step) {
        match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => match initial {
                // RFC 4954 §4: "=" is an empty initial response
                Some("=") | None => (
                    Some(Exchange {
                        stage: Stage::Plain,
                    }),
                    Step::Challenge(""),
                ),
                Some(s) => match b64(s) {
                    Some(bytes) => (None, plain(bytes)),
                    None => (None, Step::Refused(bad_encoding())),
                },
            },
            "LOGIN" => match initial {
                None => (
                    Some(Exchange {
                        stage: Stage::LoginUser,
                    }),
                    Step::Challenge(USERNAME),
                ),
                Some(s) => match b64(s).and_then(text) {
                    Some(user) => (
                        Some(Exchange {
                            stage: Stage::LoginPassword(user),
                        }),
                        Step::Challenge(PASSWORD),
                    ),
                    None => (None, Step::Refused(bad_encoding())),
                },
            },
            _ => (
                None,
                Step::Refused(Reply::new(
                    504,
                    [5, 5, 4],
                    "Unrecognized authentication type",
                )),
            ),
        }
    }

    /// The client's next line; `None` when the exchange is over.
    pub fn next(self, line: &str) -> (Option<Exchange>, Step) {
        let line = line.trim_end_matches(['\r', '\n']);
        // RFC 4954 §4: "*" cancels
        if line == "*" {
            return (
                None,
                Step::Refused(Reply::new(501, [5, 7, 0], "Authentication cancelled")),
            );
        }
        match self.stage {
            Stage::Plain => match b64(line) {
                Some(bytes) => (None, plain(bytes)),
                None => (None, Step::Refused(bad_encoding())),
            },
            Stage::LoginUser => match b64(line).and_then(text) {
                Some(user) if !user.is_empty() => (
                    Some(Exchange {
                        stage: Stage::LoginPassword(user),
                    }),
                    Step::Challenge(PASSWORD),
                ),
                _ => (None, Step::Refused(bad_encoding())),
            },
            Stage::LoginPassword(user) => match b64(line).and_then(text) {
                Some(password) => (None, Step::Credentials { user, password }),
                None => (None, Step::Refused(bad_encoding())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn creds(user: &str, password: &str) -> Step {
        Step::Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let (ex, step) = Exchange::start("plain", Some(&enc(b"\0alice@example.test\0pw")));
        assert!(ex.is_none());
        assert_eq!(step, creds("alice@example.test", "pw"));
        let (ex, step) = Exchange::start("PLAIN", None);
        assert_eq!(step, Step::Challenge(""));
        let (ex, step) = ex
            .unwrap()
            .next(&enc(b"alice@example.test\0alice@example.test\0pw"));
        assert!(ex.is_none());
        assert_eq!(step, creds("alice@example.test", "pw"));
    }

    #[test]
    fn plain_refuses_acting_as_someone_else_and_bad_data() {
        let (_, step) = Exchange::start(
            "PLAIN",
            Some(&enc(b"bob@example.test\0alice@example.test\0pw")),
        );
        assert!(matches!(step, Step::Refused(r) if r.code == 535));
        for bad in [
            "not base64!",
            &enc(b"only\0two"),
            &enc(b"\0\0pw"),
            &enc(b"\0a\r\nb\0pw"),
        ] {
            let (_, step) = Exchange::start("PLAIN", Some(bad));
            assert!(matches!(step, Step::Refused(r) if r.code == 501), "{bad}");
        }
    }

    #[test]
    fn login_in_two_steps_and_cancel() {
        let (ex, step) = Exchange::start("LOGIN", None);
        assert_eq!(step, Step::Challenge(USERNAME));
        let (ex, step) = ex.unwrap().next(&enc(b"alice@example.test"));
        assert_eq!(step, Step::Challenge(PASSWORD));
        let (ex, step) = ex.unwrap().next(&enc(b"secret"));
        assert!(ex.is_none());
        assert_eq!(step, creds("alice@example.test", "secret"));
        let (ex, _) = Exchange::start("LOGIN", Some(&enc(b"alice@example.test")));
        let (ex, step) = ex.unwrap().next("*");
        assert!(ex.is_none());
        assert!(matches!(step, Step::Refused(r) if r.code == 501));
        let (_, step) = Exchange::start("CRAM-MD5", None);
        assert!(matches!(step, Step::Refused(r) if r.code == 504));
    }
}
