//! The delivery client against scripted SMTP servers on 127.0.0.1 that
//! check what it sends: pipelined groups when PIPELINING is offered (the
//! server answers nothing until the whole group is there), one command at
//! a time when it is not (more bytes before a reply is a violation), BDAT
//! when CHUNKING is offered (the bytes as stored, no dot-stuffing), a
//! refused recipient judged alone, connections reused without NOOP, and a
//! connection the server closed replaced without losing the message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::config::TlsMode;
use server::queue::{Attempt, Deliverer, Route, SmtpDeliverer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the scripted server behaves.
#[derive(Clone, Default)]
struct Script {
    /// EHLO keywords offered besides the name.
    caps: &'static [&'static str],
    /// A recipient refused with 550.
    refuse: Option<&'static str>,
    /// After this many messages on a connection, the next MAIL is answered
    /// 421 and the connection closed (a server shutting down).
    shut_after: Option<usize>,
    /// After each message, close the connection without a word (an idle
    /// timeout on the server's side).
    drop_after_each: bool,
}

/// What the scripted server saw.
#[derive(Default, Debug)]
struct Seen {
    connections: usize,
    commands: Vec<String>,
    /// Messages accepted (as received: after BDAT, or DATA unstuffed).
    bodies: Vec<Vec<u8>>,
    violations: Vec<String>,
}

type Log = Arc<Mutex<Seen>>;

async fn scripted(script: Script) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let log: Log = Default::default();
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            keep.lock().unwrap().connections += 1;
            tokio::spawn(session(sock, script.clone(), keep.clone()));
        }
    });
    (port, log)
}

/// Read until `buf` holds a whole line; the line (without CRLF).
async fn line(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let l = String::from_utf8_lossy(&buf[..i]).to_string();
            buf.drain(..i + 2);
            return Some(l);
        }
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// Read until `buf` holds `n` bytes; them.
async fn bytes(sock: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    while buf.len() < n {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut chunk)).await {
            Ok(Ok(k)) if k > 0 => buf.extend_from_slice(&chunk[..k]),
            _ => return None,
        }
    }
    Some(buf.drain(..n).collect())
}

/// Whether more bytes than `buf` holds come within a short while.
async fn more_comes(sock: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    if !buf.is_empty() {
        return true;
    }
    let mut chunk = [0u8; 8192];
    match tokio::time::timeout(Duration::from_millis(100), sock.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        _ => false,
    }
}

async fn session(mut sock: TcpStream, s: Script, log: Log) {
    let pipelining = s.caps.contains(&"PIPELINING");
    let mut buf = Vec::new();
    let mut out = b"220 scripted.test ESMTP\r\n".to_vec();
    let mut messages = 0;
    let mut rcpt_ok = false;
    loop {
        // nothing is answered while more of a pipelined group may come:
        // replies go out when the client waits (as a real server flushes)
        if !out.is_empty() {
            let _ = sock.write_all(&out).await;
            out.clear();
        }
        let Some(cmd) = line(&mut sock, &mut buf).await else {
            return;
        };
        log.lock().unwrap().commands.push(cmd.clone());
        let verb = cmd
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                out.extend_from_slice(b"250-scripted.test\r\n");
                for c in s.caps {
                    out.extend_from_slice(format!("250-{c}\r\n").as_bytes());
                }
                out.extend_from_slice(b"250 HELP\r\n");
            }
            "MAIL" => {
                if s.shut_after == Some(messages) {
                    let _ = sock.write_all(b"421 4.3.2 shutting down\r\n").await;
                    return;
                }
                if pipelining {
                    // the group must all be here before any reply
                    let mut probe = buf.clone();
                    while !probe.windows(6).any(|w| w == b"DATA\r\n")
                        && !probe.windows(5).any(|w| w == b"BDAT ")
                    {
                        let mut chunk = [0u8; 8192];
                        match tokio::time::timeout(Duration::from_secs(2), sock.read(&mut chunk))
                            .await
                        {
                            Ok(Ok(n)) if n > 0 => {
                                buf.extend_from_slice(&chunk[..n]);
                                probe = buf.clone();
                            }
                            _ => {
                                log.lock()
                                    .unwrap()
                                    .violations
                                    .push("MAIL sent without its group".into());
                                break;
                            }
                        }
                    }
                } else if more_comes(&mut sock, &mut buf).await {
                    log.lock()
                        .unwrap()
                        .violations
                        .push("pipelined without PIPELINING".into());
                }
                rcpt_ok = false;
                out.extend_from_slice(b"250 2.1.0 ok\r\n");
            }
            "RCPT" => {
                if !pipelining && more_comes(&mut sock, &mut buf).await {
                    log.lock()
                        .unwrap()
                        .violations
                        .push("pipelined without PIPELINING".into());
                }
                if s.refuse.is_some_and(|r| cmd.contains(r)) {
                    out.extend_from_slice(b"550 5.1.1 no such user here\r\n");
                } else {
                    rcpt_ok = true;
                    out.extend_from_slice(b"250 2.1.5 ok\r\n");
                }
            }
            "DATA" => {
                if !rcpt_ok {
                    out.extend_from_slice(b"554 5.5.1 no valid recipients\r\n");
                    continue;
                }
                let _ = sock.write_all(&out).await;
                out.clear();
                let _ = sock.write_all(b"354 go ahead\r\n").await;
                let mut body = Vec::new();
                loop {
                    let Some(l) = line(&mut sock, &mut buf).await else {
                        return;
                    };
                    if l == "." {
                        break;
                    }
                    let l = l.strip_prefix('.').unwrap_or(&l);
                    body.extend_from_slice(l.as_bytes());
                    body.extend_from_slice(b"\r\n");
                }
                log.lock().unwrap().bodies.push(body);
                messages += 1;
                out.extend_from_slice(b"250 2.0.0 queued as D\r\n");
                if s.drop_after_each {
                    let _ = sock.write_all(&out).await;
                    return;
                }
            }
            "BDAT" => {
                let n: usize = cmd
                    .split(' ')
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let Some(chunk) = bytes(&mut sock, &mut buf, n).await else {
                    return;
                };
                if !rcpt_ok {
                    out.extend_from_slice(b"554 5.5.1 no valid recipients\r\n");
                    continue;
                }
                log.lock().unwrap().bodies.push(chunk);
                messages += 1;
                out.extend_from_slice(b"250 2.0.0 queued as B\r\n");
                if s.drop_after_each {
                    let _ = sock.write_all(&out).await;
                    return;
                }
            }
            "RSET" => {
                rcpt_ok = false;
                out.extend_from_slice(b"250 2.0.0 ok\r\n");
            }
            "NOOP" => {
                log.lock().unwrap().violations.push("NOOP".into());
                out.extend_from_slice(b"250 2.0.0 ok\r\n");
            }
            "QUIT" => {
                let _ = sock.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => out.extend_from_slice(b"502 5.5.2 not here\r\n"),
        }
    }
}

fn route(port: u16) -> Route {
    Route::new("127.0.0.1", port, TlsMode::None)
}

fn deliverer() -> SmtpDeliverer {
    SmtpDeliverer::new("continuity.test", Duration::from_secs(5)).expect("deliverer")
}

const MESSAGE: &[u8] =
    b"From: a@remote.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\n.a line with a dot\r\nend\r\n";

/// The ways a server may take a transaction: pipelined with DATA or with
/// BDAT, or one command at a time.
const WAYS: [&[&str]; 3] = [&["PIPELINING"], &["PIPELINING", "CHUNKING"], &[]];

/// One recipient per transaction, as most tests here send.
#[async_trait::async_trait]
trait One {
    async fn deliver_one(&self, route: &Route, from: &str, rcpt: &str, message: &[u8]) -> Attempt;
}

#[async_trait::async_trait]
impl One for SmtpDeliverer {
    async fn deliver_one(&self, route: &Route, from: &str, rcpt: &str, message: &[u8]) -> Attempt {
        let mut each = self.deliver(route, from, &[rcpt], message).await;
        assert_eq!(each.len(), 1, "one verdict per recipient");
        each.remove(0)
    }
}

fn accepted(a: &Attempt) -> bool {
    matches!(a, Attempt::Accepted(_))
}

#[tokio::test]
async fn with_pipelining_mail_rcpt_and_data_go_together_and_the_connection_is_reused() {
    let (port, log) = scripted(Script {
        caps: &["PIPELINING", "8BITMIME", "SIZE 10000000"],
        ..Script::default()
    })
    .await;
    let d = deliverer();
    for i in 0..3 {
        let a = d
            .deliver_one(
                &route(port),
                "a@remote.test",
                &format!("b{i}@example.test"),
                MESSAGE,
            )
            .await;
        assert!(accepted(&a), "{a:?}");
        if let Attempt::Accepted(reply) = a {
            assert_eq!(reply, "250 2.0.0 queued as D");
        }
    }
    let seen = log.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(seen.connections, 1, "one connection for the three");
    assert_eq!(seen.bodies.len(), 3);
    assert_eq!(
        seen.bodies[0], MESSAGE,
        "dots unstuffed give the message back"
    );
    let mail: Vec<_> = seen
        .commands
        .iter()
        .filter(|c| c.starts_with("MAIL"))
        .collect();
    assert_eq!(
        mail[0],
        &format!("MAIL FROM:<a@remote.test> SIZE={}", MESSAGE.len())
    );
}

#[tokio::test]
async fn without_pipelining_one_command_at_a_time() {
    let (port, log) = scripted(Script {
        caps: &["8BITMIME"],
        ..Script::default()
    })
    .await;
    let d = deliverer();
    for rcpt in ["b@example.test", "c@example.test"] {
        let a = d.deliver_one(&route(port), "", rcpt, MESSAGE).await;
        assert!(accepted(&a), "{a:?}");
    }
    let seen = log.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(seen.connections, 1);
    assert_eq!(seen.bodies.len(), 2);
    assert!(seen.commands.contains(&"MAIL FROM:<>".to_string()));
}

#[tokio::test]
async fn with_chunking_the_message_goes_as_bdat_in_the_same_write() {
    let (port, log) = scripted(Script {
        caps: &["PIPELINING", "CHUNKING", "8BITMIME"],
        ..Script::default()
    })
    .await;
    let d = deliverer();
    let eight_bit = "Subject: é\r\n\r\ncafé\r\n.\r\n".as_bytes();
    let a = d
        .deliver_one(&route(port), "a@remote.test", "b@example.test", eight_bit)
        .await;
    assert!(accepted(&a), "{a:?}");
    let seen = log.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(seen.bodies, vec![eight_bit.to_vec()], "the bytes as stored");
    assert!(seen
        .commands
        .contains(&"MAIL FROM:<a@remote.test> BODY=8BITMIME".to_string()));
    assert!(seen
        .commands
        .contains(&format!("BDAT {} LAST", eight_bit.len())));
    assert!(!seen.commands.iter().any(|c| c == "DATA"));
}

/// Several recipients in one transaction: MAIL once, every RCPT, the
/// message once; the recipient refused among them bounces alone and the
/// others share the message's verdict — pipelined or not, DATA or BDAT.
#[tokio::test]
async fn one_transaction_for_several_recipients_each_judged_alone() {
    for caps in WAYS {
        let (port, log) = scripted(Script {
            caps,
            refuse: Some("nobody@example.test"),
            ..Script::default()
        })
        .await;
        let d = deliverer();
        let rcpts = ["b@example.test", "nobody@example.test", "c@example.test"];
        let each = d
            .deliver(&route(port), "a@remote.test", &rcpts, MESSAGE)
            .await;
        assert_eq!(each.len(), 3, "{caps:?}");
        assert!(
            accepted(&each[0]) && accepted(&each[2]),
            "{caps:?}: {each:?}"
        );
        assert_eq!(
            each[1],
            Attempt::Permanent("550 5.1.1 no such user here".into()),
            "{caps:?}"
        );
        // all refused: nothing sent, each its own reply; then the connection
        // serves the next transaction
        let each = d
            .deliver(
                &route(port),
                "a@remote.test",
                &["nobody@example.test"; 2],
                MESSAGE,
            )
            .await;
        assert!(
            each.iter().all(|a| matches!(a, Attempt::Permanent(_))),
            "{caps:?}: {each:?}"
        );
        let next = d
            .deliver_one(&route(port), "a@remote.test", "d@example.test", MESSAGE)
            .await;
        assert!(accepted(&next), "{caps:?}: {next:?}");
        let seen = log.lock().unwrap();
        assert!(
            seen.violations.is_empty(),
            "{caps:?}: {:?}",
            seen.violations
        );
        assert_eq!(seen.connections, 1, "{caps:?}");
        assert_eq!(
            seen.bodies.len(),
            2,
            "{caps:?}: the message once, then the next"
        );
        let count = |p: &str| seen.commands.iter().filter(|c| c.starts_with(p)).count();
        assert_eq!(count("MAIL"), 3, "{caps:?}: {:?}", seen.commands);
        assert_eq!(count("RCPT"), 6, "{caps:?}: {:?}", seen.commands);
    }
}

#[tokio::test]
async fn a_refused_recipient_is_judged_alone_and_the_next_one_delivered() {
    for caps in WAYS {
        let (port, log) = scripted(Script {
            caps,
            refuse: Some("nobody@example.test"),
            ..Script::default()
        })
        .await;
        let d = deliverer();
        let refused = d
            .deliver_one(
                &route(port),
                "a@remote.test",
                "nobody@example.test",
                MESSAGE,
            )
            .await;
        assert_eq!(
            refused,
            Attempt::Permanent("550 5.1.1 no such user here".into()),
            "{caps:?}"
        );
        let ok = d
            .deliver_one(&route(port), "a@remote.test", "b@example.test", MESSAGE)
            .await;
        assert!(accepted(&ok), "{caps:?}: {ok:?}");
        let seen = log.lock().unwrap();
        assert!(
            seen.violations.is_empty(),
            "{caps:?}: {:?}",
            seen.violations
        );
        assert_eq!(seen.bodies.len(), 1, "{caps:?}: only the accepted one");
        assert_eq!(seen.connections, 1, "{caps:?}");
        let rset = seen.commands.iter().position(|c| c == "RSET");
        let second_mail = seen
            .commands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.starts_with("MAIL"))
            .nth(1)
            .map(|(i, _)| i);
        assert!(
            rset.is_some() && rset < second_mail,
            "{caps:?}: RSET before the next transaction: {:?}",
            seen.commands
        );
    }
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_and_nothing_is_lost() {
    // 421 at the next MAIL (a server shutting down between messages)
    let (port, log) = scripted(Script {
        caps: &["PIPELINING"],
        shut_after: Some(1),
        ..Script::default()
    })
    .await;
    let d = deliverer();
    for rcpt in ["b@example.test", "c@example.test", "e@example.test"] {
        let a = d
            .deliver_one(&route(port), "a@remote.test", rcpt, MESSAGE)
            .await;
        assert!(accepted(&a), "{rcpt}: {a:?}");
    }
    {
        let seen = log.lock().unwrap();
        assert_eq!(seen.bodies.len(), 3, "each message once");
        assert_eq!(seen.connections, 3, "a new connection after each 421");
    }
    // closed without a word after each message (an idle timeout)
    let (port, log) = scripted(Script {
        caps: &["PIPELINING", "CHUNKING"],
        drop_after_each: true,
        ..Script::default()
    })
    .await;
    for rcpt in ["b@example.test", "c@example.test"] {
        let a = d
            .deliver_one(&route(port), "a@remote.test", rcpt, MESSAGE)
            .await;
        assert!(accepted(&a), "{rcpt}: {a:?}");
    }
    let seen = log.lock().unwrap();
    assert_eq!(seen.bodies.len(), 2, "each message once");
    assert_eq!(seen.connections, 2);
}

#[tokio::test]
async fn an_address_that_would_smuggle_a_command_is_refused_before_sending() {
    let (port, log) = scripted(Script {
        caps: &["PIPELINING"],
        ..Script::default()
    })
    .await;
    let d = deliverer();
    let a = d
        .deliver_one(
            &route(port),
            "a@remote.test",
            "b@example.test>\r\nRCPT TO:<c@example.test",
            MESSAGE,
        )
        .await;
    assert!(matches!(a, Attempt::Permanent(_)), "{a:?}");
    assert!(log.lock().unwrap().bodies.is_empty());
}
