//! The notifier's test world: a small HTTP receiver standing for the SMS
//! gateway (what it got, headers and body), the gateway and the notifier
//! set up against it, a domain's state changed, the mail queued to an
//! address.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::config::{SmsBody, SmsGateway};
use server::monitor::state::{Mode, Transition};
use server::notify::{sms::Gateway, Notifier};
use server::store::{DomainId, Store, UserId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::control::Setup;

/// One request the gateway got: its headers (lower-cased names) and body.
#[derive(Debug, Clone)]
pub struct Got {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A gateway on 127.0.0.1 answering `status` to every POST.
pub async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<Got>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/send", l.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    if body.len() < len {
                        continue;
                    }
                    if let Ok(mut g) = keep.lock() {
                        g.push(Got {
                            headers,
                            body: body[..len].to_string(),
                        });
                    }
                    let _ = s
                        .write_all(
                            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                .as_bytes(),
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (url, got)
}

pub const KEY: &str = "sms-signing-key";

pub fn gateway(url: &str, cap: u32) -> Arc<Gateway> {
    let dir = crate::common::temp_dir("sms-key");
    let key = dir.join("sms.key");
    std::fs::write(&key, format!("{KEY}\n")).expect("key");
    let headers = dir.join("sms.headers");
    std::fs::write(
        &headers,
        "# the provider's\nAuthorization: Bearer provider-token\n",
    )
    .expect("headers");
    Arc::new(
        Gateway::new(SmsGateway {
            url: url.to_string(),
            content_type: SmsBody::Json,
            body: r#"{"to": "{to}", "text": "{text}"}"#.into(),
            secret_file: Some(key),
            headers_file: Some(headers),
            cap_per_domain: cap,
        })
        .expect("gateway"),
    )
}

pub fn notifier(s: &Setup, gw: Option<Arc<Gateway>>) -> Notifier {
    Notifier::new(
        s.store.clone(),
        "mx.continuity.test",
        "https://continuity.example.net",
        Duration::from_secs(1800),
        gw,
    )
}

pub async fn user(store: &Store, address: &str) -> UserId {
    store
        .account_by_address(address)
        .await
        .expect("q")
        .expect("user")
        .user
}

pub async fn change(s: &Setup, domain: DomainId, from: Mode, to: Mode) {
    let d = s
        .store
        .monitored_domain(domain)
        .await
        .expect("q")
        .expect("domain");
    let t = Transition {
        from,
        to,
        reason: "test".into(),
    };
    server::notify::event(&s.store, &d, &t)
        .await
        .expect("event");
}

/// Messages queued to `rcpt`: their subject and text.
pub async fn mails_to(store: &Store, rcpt: &str) -> Vec<String> {
    let ids = store.messages_to(rcpt).await.expect("q");
    let mut out = Vec::new();
    for id in ids {
        let raw = store.raw_message(id).await.expect("q").expect("raw");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("a message");
        let auto = m
            .header_raw("Auto-Submitted")
            .map(|v| format!("Auto-Submitted:{v}"))
            .unwrap_or_default();
        out.push(format!(
            "Subject: {}\n{auto}\n{}",
            m.subject().unwrap_or_default(),
            m.body_text(0).unwrap_or_default()
        ));
    }
    out
}
