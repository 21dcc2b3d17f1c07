//! The scripted primary the monitor's tests probe: healthy, refusing mail
//! (452 at RCPT), refusing connections (421), frozen (accepts TCP, never
//! greets) or gone (not listening), switched while it runs.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::common;

pub const HEALTHY: u8 = 0;
pub const DISK_FULL: u8 = 1;
pub const FROZEN: u8 = 2;
pub const REFUSING: u8 = 3;
/// Not listening at all: connections refused (a stopped server).
pub const GONE: u8 = 4;

/// Probes each fake primary has answered to the end (QUIT), by port.
static PROBED: std::sync::Mutex<Vec<(u16, usize)>> = std::sync::Mutex::new(Vec::new());

fn probed(port: u16) -> usize {
    PROBED
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| *p == port)
        .map_or(0, |(_, n)| *n)
}

/// Wait until the fake primary on `port` has answered `n` more whole
/// probes: what the monitor concluded from them is then on record (a wait
/// on what happened, not on the clock).
pub async fn probes_answered(port: u16, n: usize) {
    let target = probed(port) + n;
    common::eventually(30, "probes answered", || async { probed(port) >= target }).await;
}

/// Connections each fake primary has refused with a 421 banner, by port.
pub static REFUSED: std::sync::Mutex<Vec<(u16, usize)>> = std::sync::Mutex::new(Vec::new());

fn count(list: &std::sync::Mutex<Vec<(u16, usize)>>, port: u16) {
    let mut p = list.lock().unwrap();
    match p.iter_mut().find(|(q, _)| *q == port) {
        Some((_, n)) => *n += 1,
        None => p.push((port, 1)),
    }
}

/// A tiny SMTP server whose behaviour the test switches (GONE closes its
/// listening socket until the mode changes again).
pub async fn fake_primary(mode: Arc<AtomicU8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut listener = Some(listener);
        loop {
            let tick = tokio::time::sleep(Duration::from_millis(20));
            if mode.load(Ordering::SeqCst) == GONE {
                listener = None;
                tick.await;
                continue;
            }
            let Some(l) = &listener else {
                listener = TcpListener::bind(("127.0.0.1", port)).await.ok();
                if listener.is_none() {
                    tick.await;
                }
                continue;
            };
            let sock = tokio::select! {
                r = l.accept() => match r {
                    Ok((sock, _)) => sock,
                    Err(_) => return,
                },
                _ = tick => continue,
            };
            let mode = mode.clone();
            tokio::spawn(async move {
                let m = mode.load(Ordering::SeqCst);
                let (r, mut w) = sock.into_split();
                if m == FROZEN {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                if m == REFUSING {
                    let _ = w.write_all(b"421 4.3.2 service not available\r\n").await;
                    count(&REFUSED, port);
                    return;
                }
                let _ = w.write_all(b"220 primary.test ESMTP\r\n").await;
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-primary.test\r\n250 8BITMIME\r\n",
                        "HELO" => b"250 primary.test\r\n",
                        "MAIL" => b"250 2.1.0 ok\r\n",
                        "RCPT" if m == DISK_FULL => b"452 4.3.1 insufficient system storage\r\n",
                        "RCPT" => b"250 2.1.5 ok\r\n",
                        "RSET" => b"250 2.0.0 ok\r\n",
                        "QUIT" => {
                            let _ = w.write_all(b"221 2.0.0 bye\r\n").await;
                            count(&PROBED, port);
                            return;
                        }
                        _ => b"502 5.5.2 no\r\n",
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}
