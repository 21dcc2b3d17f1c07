//! The verbs of a session that open and fill a transaction — EHLO/HELO,
//! MAIL, RCPT, DATA (and the message read after it) and STARTTLS — each
//! checked against the session's state and the recipient policy. The
//! session's command dispatcher calls them; they never call back up.

use super::*;

impl<P: RecipientPolicy> Session<P> {
    pub(super) fn hello(&mut self, host: &str, esmtp: bool) -> Event {
        let host = host.trim();
        if host.is_empty() {
            return self.error(Reply::new(501, [5, 5, 4], "Syntax: EHLO hostname"));
        }
        // RFC 5321 §4.1.4: EHLO resets the transaction.
        self.txn = None;
        self.helo = Some(host.chars().filter(|c| !c.is_control()).take(255).collect());
        self.esmtp = esmtp;
        let first = format!("{} Hello {host}", self.params.hostname);
        if !esmtp {
            return Event::Reply(Reply::plain(250, first));
        }
        let mut lines = vec![
            first,
            "PIPELINING".to_string(),
            format!("SIZE {}", self.params.max_message_size),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
        ];
        if self.params.tls_available && !self.tls {
            lines.push("STARTTLS".to_string());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".to_string());
        }
        Event::Reply(Reply::multi(250, lines))
    }

    pub(super) fn mail(&mut self, from: &str, flags: u64, size: usize) -> Event {
        if self.helo.is_none() {
            return self.error(Reply::new(503, [5, 5, 1], "Send HELO/EHLO first"));
        }
        if self.txn.is_some() {
            return self.error(Reply::new(503, [5, 5, 1], "Nested MAIL command"));
        }
        if flags & MAIL_BODY_BINARYMIME != 0 {
            return self.error(Reply::new(555, [5, 5, 4], "BINARYMIME is not supported"));
        }
        // RFC 1870 §6.2: refuse early when the declared size is too large.
        if size > self.params.max_message_size {
            return self.error(Reply::new(
                552,
                [5, 3, 4],
                format!(
                    "Message size exceeds the limit of {} bytes",
                    self.params.max_message_size
                ),
            ));
        }
        if !from.is_empty() && (from.len() > 254 || !from.contains('@')) {
            return self.error(Reply::new(501, [5, 1, 7], "Bad sender address syntax"));
        }
        if self.params.submission.is_some() {
            if let Err(reply) = self.may_send_as(from) {
                return self.error(reply);
            }
        }
        self.txn = Some(Transaction {
            mail_from: from.to_string(),
            recipients: Vec::new(),
            smtputf8: flags & MAIL_SMTPUTF8 != 0,
        });
        Event::Reply(Reply::new(250, [2, 1, 0], "Ok"))
    }

    pub(super) fn rcpt(&mut self, to: &str) -> Event {
        let Some(txn) = &self.txn else {
            return self.error(Reply::new(503, [5, 5, 1], "Need MAIL command"));
        };
        if to.is_empty() || to.len() > 254 {
            return self.error(Reply::new(501, [5, 1, 3], "Bad recipient address syntax"));
        }
        if txn
            .recipients
            .iter()
            .any(|r| r.rcpt.eq_ignore_ascii_case(to))
        {
            return Event::Reply(Reply::new(250, [2, 1, 5], "Ok"));
        }
        // RFC 5321 §4.5.3.1.10
        if txn.recipients.len() >= self.params.max_recipients {
            return Event::Reply(Reply::new(452, [4, 5, 3], "Too many recipients"));
        }
        if self.params.submission.is_some() {
            // an authenticated sender may write to anyone (MAIL checked who)
            return self.submission_rcpt(to);
        }
        match self.policy.check(to) {
            RcptVerdict::Accept { domain, user } => {
                if let Some(txn) = &mut self.txn {
                    txn.recipients.push(NewRecipient {
                        rcpt: to.to_string(),
                        domain: Some(domain),
                        user,
                    });
                }
                Event::Reply(Reply::new(250, [2, 1, 5], "Ok"))
            }
            // RFC 5321 §3.6.2: never an open relay.
            RcptVerdict::NotProtected => self.reject(
                Some(to),
                Reply::new(550, [5, 7, 1], format!("<{to}>: Relay access denied")),
            ),
            RcptVerdict::UnknownUser => self.reject(
                Some(to),
                Reply::new(
                    550,
                    [5, 1, 1],
                    format!("<{to}>: Recipient address rejected: User unknown"),
                ),
            ),
            RcptVerdict::Disabled => self.reject(
                Some(to),
                Reply::new(
                    550,
                    [5, 2, 1],
                    format!("<{to}>: Recipient address rejected: Mailbox disabled"),
                ),
            ),
        }
    }

    pub(super) fn data(&mut self) -> Event {
        let Some(txn) = &self.txn else {
            return self.error(Reply::new(503, [5, 5, 1], "Need MAIL command"));
        };
        if txn.recipients.is_empty() {
            return self.error(Reply::new(554, [5, 5, 1], "No valid recipients"));
        }
        self.state = State::Data(Box::default());
        Event::Reply(Reply::plain(354, "End data with <CR><LF>.<CR><LF>"))
    }

    pub(super) fn data_event(&mut self) -> Option<Event> {
        let State::Data(reader) = &mut self.state else {
            return None;
        };
        let limit = self.params.max_message_size;
        let (consumed, done) = reader.ingest(&self.input, limit);
        self.input.drain(..consumed);
        if !done {
            return None;
        }
        let State::Data(reader) = std::mem::replace(&mut self.state, State::Command) else {
            return None;
        };
        let txn = self.txn.take();
        match reader.finish(limit, self.params.bare_newlines) {
            Finished::Refused(reply) => Some(Event::Reply(reply)),
            Finished::Malformed(reply) => {
                self.state = State::Closed;
                Some(Event::Close(reply))
            }
            Finished::Message(raw) => {
                let txn = txn?;
                self.state = State::AwaitCommit;
                Some(Event::Commit(Envelope {
                    mail_from: txn.mail_from,
                    recipients: txn.recipients,
                    raw,
                    helo: self.helo.clone(),
                    tls: self.tls,
                    smtputf8: txn.smtputf8,
                    principal: self.principal.clone(),
                }))
            }
        }
    }

    pub(super) fn starttls(&mut self) -> Event {
        if self.txn.is_some() {
            return self.error(Reply::new(503, [5, 5, 1], "STARTTLS inside a transaction"));
        }
        if self.tls {
            return self.error(Reply::new(503, [5, 5, 1], "TLS already active"));
        }
        if !self.params.tls_available {
            return self.error(Reply::new(502, [5, 5, 1], "Command not implemented"));
        }
        // Anything pipelined after STARTTLS was sent in clear text and must
        // not be acted upon once TLS is up (CVE-2011-0411).
        self.input.clear();
        Event::StartTls(Reply::new(220, OK, "Ready to start TLS"))
    }
}
