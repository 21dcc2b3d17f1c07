//! A transaction on an open connection: `MAIL`, every `RCPT`, then the
//! message (`DATA` or `BDAT`) — pipelined in one write when the server
//! offers it — and one verdict per recipient: a refused `RCPT` is that
//! recipient's answer, the accepted ones share the message's.

use smtp_proto::{EXT_8BIT_MIME, EXT_CHUNKING, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8};

use super::{Broken, Conn, Fate, Reply};
use crate::queue::transport::Attempt;

impl Conn {
    /// One transaction: `message` from `mail_from` ("" for `<>`) to
    /// `rcpts`; one verdict per recipient, in their order. A recipient the
    /// server refuses is judged alone; the message's fate (MAIL, DATA) is
    /// every accepted recipient's.
    pub async fn send(
        &mut self,
        mail_from: &str,
        rcpts: &[&str],
        message: &[u8],
    ) -> (Vec<Attempt>, Fate) {
        let all = |a: Attempt| vec![a; rcpts.len()];
        if let Err(why) = check_address(mail_from) {
            return (all(Attempt::Permanent(why)), Fate::Keep);
        }
        let smtputf8 = self.caps & EXT_SMTP_UTF8 != 0;
        let not_ascii =
            || "the address is not ASCII and the server does not offer SMTPUTF8".to_string();
        if !mail_from.is_ascii() && !smtputf8 {
            return (all(Attempt::Permanent(not_ascii())), Fate::Keep);
        }
        // recipients that cannot go are judged before anything is sent
        let mut verdicts: Vec<Option<Attempt>> = rcpts
            .iter()
            .map(|r| match check_address(r) {
                Err(why) => Some(Attempt::Permanent(why)),
                Ok(()) if !r.is_ascii() && !smtputf8 => Some(Attempt::Permanent(not_ascii())),
                Ok(()) => None,
            })
            .collect();
        let going: Vec<usize> = (0..rcpts.len())
            .filter(|&i| verdicts[i].is_none())
            .collect();
        if going.is_empty() {
            return (verdicts.into_iter().flatten().collect(), Fate::Keep);
        }
        let utf8 = !mail_from.is_ascii() || going.iter().any(|&i| !rcpts[i].is_ascii());
        let mut mail = format!("MAIL FROM:<{mail_from}>");
        if self.caps & EXT_8BIT_MIME != 0 && !message.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if self.caps & EXT_SIZE != 0 {
            mail.push_str(&format!(" SIZE={}", message.len()));
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let rcpt_cmds: Vec<String> = going
            .iter()
            .map(|&i| format!("RCPT TO:<{}>\r\n", rcpts[i]))
            .collect();
        let pipelining = self.caps & EXT_PIPELINING != 0;
        let chunking = self.caps & EXT_CHUNKING != 0;
        let result = if pipelining {
            self.pipelined(&mail, &rcpt_cmds, message, chunking).await
        } else {
            self.one_by_one(&mail, &rcpt_cmds, message, chunking).await
        };
        let fate = match result {
            Ok(Sent {
                rcpts: each,
                message: accepted,
            }) => {
                if accepted {
                    self.sent += 1;
                } else {
                    self.needs_reset = true;
                }
                for (&i, v) in going.iter().zip(each) {
                    verdicts[i] = Some(v);
                }
                Fate::Keep
            }
            Err(Step { at_first, why }) => {
                for &i in &going {
                    verdicts[i] = Some(Attempt::Temporary(why.clone()));
                }
                if at_first {
                    Fate::Stale
                } else {
                    Fate::Close
                }
            }
        };
        let verdicts = verdicts
            .into_iter()
            .map(|v| v.unwrap_or_else(|| Attempt::Temporary("no reply".into())))
            .collect();
        (verdicts, fate)
    }

    /// MAIL, every RCPT and DATA (or the whole message as BDAT) in one write.
    async fn pipelined(
        &mut self,
        mail: &str,
        rcpts: &[String],
        message: &[u8],
        chunking: bool,
    ) -> Result<Sent, Step> {
        let reset = std::mem::take(&mut self.needs_reset);
        let commands: usize = rcpts.iter().map(String::len).sum();
        let mut out = Vec::with_capacity(mail.len() + commands + 32 + message.len());
        if reset {
            out.extend_from_slice(b"RSET\r\n");
        }
        out.extend_from_slice(mail.as_bytes());
        for r in rcpts {
            out.extend_from_slice(r.as_bytes());
        }
        if chunking {
            out.extend_from_slice(format!("BDAT {} LAST\r\n", message.len()).as_bytes());
            out.extend_from_slice(message);
        } else {
            out.extend_from_slice(b"DATA\r\n");
        }
        self.write(&out).await.map_err(Step::first)?;
        if reset {
            // whatever it says, the transaction below is judged by its own replies
            self.reply().await.map_err(Step::first)?;
        }
        let mail_r = self.reply().await.map_err(|b| Step::at(b, !reset))?;
        if mail_r.code == 421 {
            return Err(Step {
                at_first: !reset,
                why: mail_r.text,
            });
        }
        let mut rcpt_r = Vec::with_capacity(rcpts.len());
        for _ in rcpts {
            rcpt_r.push(self.reply().await.map_err(Step::later)?);
        }
        let data_r = self.reply().await.map_err(Step::later)?;
        let refused = |r: &Reply| Sent::refused(rcpts.len(), r);
        if !mail_r.is_ok() || !rcpt_r.iter().any(Reply::is_ok) {
            if data_r.code == 354 {
                self.end_empty_data().await?;
            }
            if !mail_r.is_ok() {
                return Ok(refused(&mail_r));
            }
            return Ok(Sent::judged(&rcpt_r, &data_r));
        }
        if chunking || data_r.code != 354 {
            return Ok(Sent::judged(&rcpt_r, &data_r));
        }
        self.write(&dot_stuffed(message))
            .await
            .map_err(Step::later)?;
        let end = self.reply().await.map_err(Step::later)?;
        Ok(Sent::judged(&rcpt_r, &end))
    }

    /// Without PIPELINING: each command waits for its reply.
    async fn one_by_one(
        &mut self,
        mail: &str,
        rcpts: &[String],
        message: &[u8],
        chunking: bool,
    ) -> Result<Sent, Step> {
        let mut first = true;
        if std::mem::take(&mut self.needs_reset) {
            self.command(b"RSET\r\n").await.map_err(Step::first)?;
            first = false;
        }
        let r = self
            .command(mail.as_bytes())
            .await
            .map_err(|b| Step::at(b, first))?;
        if r.code == 421 && first {
            return Err(Step {
                at_first: true,
                why: r.text,
            });
        }
        if !r.is_ok() {
            return Ok(Sent::refused(rcpts.len(), &r));
        }
        let mut rcpt_r = Vec::with_capacity(rcpts.len());
        for cmd in rcpts {
            rcpt_r.push(self.command(cmd.as_bytes()).await.map_err(Step::later)?);
        }
        if !rcpt_r.iter().any(Reply::is_ok) {
            return Ok(Sent::judged(&rcpt_r, &r));
        }
        if chunking {
            let mut out = format!("BDAT {} LAST\r\n", message.len()).into_bytes();
            out.extend_from_slice(message);
            let r = self.command(&out).await.map_err(Step::later)?;
            return Ok(Sent::judged(&rcpt_r, &r));
        }
        let r = self.command(b"DATA\r\n").await.map_err(Step::later)?;
        if r.code != 354 {
            return Ok(Sent::judged(&rcpt_r, &r));
        }
        let r = self
            .command(&dot_stuffed(message))
            .await
            .map_err(Step::later)?;
        Ok(Sent::judged(&rcpt_r, &r))
    }

    /// DATA was accepted though no recipient was (RFC 2920 §3.1): an
    /// empty message ends it, and is refused.
    async fn end_empty_data(&mut self) -> Result<(), Step> {
        self.command(b".\r\n").await.map_err(Step::later)?;
        Ok(())
    }
}

/// The verdicts of a transaction the server answered to the end.
struct Sent {
    /// One per recipient sent.
    rcpts: Vec<Attempt>,
    /// The server took the message (for at least one recipient).
    message: bool,
}

impl Sent {
    /// MAIL refused: every recipient has its reply.
    fn refused(n: usize, mail: &Reply) -> Sent {
        Sent {
            rcpts: vec![mail.verdict(); n],
            message: false,
        }
    }

    /// Each recipient refused has its own reply; those accepted share the
    /// message's (`data`: the reply to the end of data, or to DATA or BDAT
    /// when that refused it).
    fn judged(rcpts: &[Reply], data: &Reply) -> Sent {
        Sent {
            rcpts: rcpts
                .iter()
                .map(|r| {
                    if r.is_ok() {
                        data.verdict()
                    } else {
                        r.verdict()
                    }
                })
                .collect(),
            message: rcpts.iter().any(Reply::is_ok) && (200..300).contains(&data.code),
        }
    }
}

/// A transaction's failure that broke the connection: `at_first` when it
/// happened at its first reply (the server accepted nothing).
struct Step {
    at_first: bool,
    why: String,
}

impl Step {
    fn at(Broken(why): Broken, at_first: bool) -> Step {
        Step { at_first, why }
    }
    fn first(b: Broken) -> Step {
        Step::at(b, true)
    }
    fn later(b: Broken) -> Step {
        Step::at(b, false)
    }
}

/// An address fit to go between `<` and `>` (no spaces, brackets or
/// control characters: nothing that would smuggle a command).
pub(super) fn check_address(a: &str) -> Result<(), String> {
    if a.len() > 512
        || a.chars()
            .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>')
    {
        return Err(format!("the address <{}> cannot be sent", a.escape_debug()));
    }
    Ok(())
}

/// The message as DATA sends it: a `.` doubled at the start of every line,
/// ending with CRLF and the final `.`.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_doubled_at_line_starts_and_the_end_is_added() {
        assert_eq!(
            dot_stuffed(b".a\r\nb.\r\n..c\r\n"),
            b"..a\r\nb.\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(b"no end"), b"no end\r\n.\r\n");
    }

    #[test]
    fn addresses_cannot_smuggle_commands() {
        assert!(check_address("a@b.test").is_ok());
        assert!(check_address("").is_ok());
        assert!(check_address("a@b.test>\r\nRCPT TO:<c@d.test").is_err());
        assert!(check_address("a b@c.test").is_err());
    }
}
