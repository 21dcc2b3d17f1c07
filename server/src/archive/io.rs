//! `continuity archive import|export`: mail in and out of a user's archive.
//!
//! Import reads an mbox file, a Maildir (with its Maildir++ subfolders), a
//! folder of `.eml` files (recursively) or one `.eml` file, with
//! mail-parser's mailbox readers; each message goes through
//! [`Store::import_message`] (skipped when the user already has it, so a
//! second run adds nothing). Export writes the user's archive as an mboxrd
//! file (`>From ` quoting that round-trips).

use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use mail_parser::mailbox::{maildir, mbox};

use crate::store::archive_io::{Import, Imported};
use crate::store::{Store, StoreError, UserId};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub added: u64,
    pub duplicates: u64,
    /// Unreadable files or entries (each reported on stderr).
    pub failed: u64,
}

/// A progress line on a terminal (nothing when stderr is not one).
pub struct Progress {
    on: bool,
    verb: &'static str,
    last: std::time::Instant,
}

impl Progress {
    pub fn new(verb: &'static str) -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            verb,
            last: std::time::Instant::now(),
        }
    }
    pub fn show(&mut self, n: u64, of: &str) {
        if self.on && self.last.elapsed().as_millis() >= 100 {
            self.last = std::time::Instant::now();
            eprint!("\r{} {n} messages{of}\x1b[K", self.verb);
        }
    }
    pub fn done(&self) {
        if self.on {
            eprint!("\r\x1b[K");
        }
    }
}

/// What a path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Mbox(PathBuf),
    Maildir(PathBuf),
    EmlFolder(PathBuf),
    Eml(PathBuf),
}

pub fn kind_of(path: &Path) -> std::io::Result<Kind> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        if path.join("cur").is_dir() && path.join("new").is_dir() {
            return Ok(Kind::Maildir(path.into()));
        }
        return Ok(Kind::EmlFolder(path.into()));
    }
    let mut head = [0u8; 5];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    if &head[..n] == b"From " {
        Ok(Kind::Mbox(path.into()))
    } else {
        Ok(Kind::Eml(path.into()))
    }
}

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let t = e.file_type()?;
        if t.is_dir() {
            eml_files(&p, out)?;
        } else if t.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")) {
            out.push(p);
        }
    }
    Ok(())
}

async fn one(
    store: &Store,
    user: UserId,
    raw: &[u8],
    at: Option<i64>,
    source: &str,
    s: &mut ImportSummary,
) -> Result<(), StoreError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match store
        .import_message(
            user,
            &Import {
                raw,
                received_at: at,
                source,
            },
        )
        .await?
    {
        Imported::Added(_) => s.added += 1,
        Imported::Duplicate => s.duplicates += 1,
    }
    Ok(())
}

/// Import everything at `path` into `user`'s archive.
pub async fn import(store: &Store, user: UserId, path: &Path) -> anyhow::Result<ImportSummary> {
    let mut s = ImportSummary::default();
    let mut progress = Progress::new("imported");
    let source = path.display().to_string();
    match kind_of(path)? {
        Kind::Mbox(p) => {
            let total = std::fs::metadata(&p)?.len();
            let reader = BufReader::new(std::fs::File::open(&p)?);
            for m in mbox::MessageIterator::new(reader) {
                match m {
                    Ok(m) => {
                        let at = (m.internal_date() > 0).then(|| m.internal_date() as i64 * 1000);
                        // the blank line before the next "From " is the
                        // mbox's, not the message's
                        let c = m.contents();
                        let c = c
                            .strip_suffix(b"\n")
                            .filter(|c| c.ends_with(b"\n"))
                            .unwrap_or(c);
                        one(store, user, c, at, &source, &mut s).await?;
                    }
                    Err(e) => {
                        eprintln!("{source}: cannot read: {e}");
                        s.failed += 1;
                        break;
                    }
                }
                progress.show(
                    s.added + s.duplicates,
                    &format!(" of a {} MB mbox", total / 1_000_000),
                );
            }
        }
        Kind::Maildir(p) => {
            for folder in maildir::FolderIterator::new(&p, Some("."))? {
                let folder = match folder {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("{source}: cannot read a folder: {e}");
                        s.failed += 1;
                        continue;
                    }
                };
                for m in folder {
                    match m {
                        Ok(m) => {
                            let at =
                                (m.internal_date() > 0).then(|| m.internal_date() as i64 * 1000);
                            let src = m.path().display().to_string();
                            one(store, user, m.contents(), at, &src, &mut s).await?;
                        }
                        Err(e) => {
                            eprintln!("{source}: cannot read a message: {e}");
                            s.failed += 1;
                        }
                    }
                    progress.show(s.added + s.duplicates, "");
                }
            }
        }
        Kind::EmlFolder(p) => {
            let mut files = Vec::new();
            eml_files(&p, &mut files)?;
            let total = files.len();
            for f in files {
                match std::fs::read(&f) {
                    Ok(raw) => {
                        one(store, user, &raw, None, &f.display().to_string(), &mut s).await?
                    }
                    Err(e) => {
                        eprintln!("{}: cannot read: {e}", f.display());
                        s.failed += 1;
                    }
                }
                progress.show(s.added + s.duplicates, &format!(" of {total} files"));
            }
        }
        Kind::Eml(p) => {
            let raw = std::fs::read(&p)?;
            one(store, user, &raw, None, &source, &mut s).await?;
        }
    }
    progress.done();
    Ok(s)
}

/// The mboxrd "From " line of a message.
fn from_line(sender: &str, at_ms: i64) -> String {
    let when = time::OffsetDateTime::from_unix_timestamp(at_ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
            ))
            .ok()
        })
        .unwrap_or_else(|| "Thu Jan  1 00:00:00 1970".into());
    let sender = if sender.is_empty() || sender.contains(char::is_whitespace) {
        "MAILER-DAEMON"
    } else {
        sender
    };
    format!("From {sender} {when}\n")
}

/// One message in mboxrd form: every line that is `>*From ` gains a `>`.
pub fn mboxrd(out: &mut Vec<u8>, sender: &str, at_ms: i64, raw: &[u8]) {
    out.extend_from_slice(from_line(sender, at_ms).as_bytes());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let quoted = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
        if line[quoted..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    if !raw.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// Export `user`'s archive as mboxrd to `w`; returns how many messages.
pub async fn export(store: &Store, user: UserId, w: &mut dyn Write) -> anyhow::Result<u64> {
    let mut after = 0;
    let mut n = 0u64;
    let mut progress = Progress::new("exported");
    loop {
        let batch = store.export_batch(user, after, 200).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.0;
        let mut buf = Vec::new();
        for (_, at, sender, raw) in &batch {
            mboxrd(&mut buf, sender, *at, raw);
            n += 1;
        }
        w.write_all(&buf)?;
        progress.show(n, "");
    }
    w.flush()?;
    progress.done();
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_and_mail_parser_reads_them_back() {
        let raw = b"Subject: x\r\n\r\nFrom here on\r\n>From there\r\nplain\r\n";
        let mut out = Vec::new();
        mboxrd(&mut out, "a@b.test", 1_700_000_000_000, raw);
        mboxrd(&mut out, "", 0, b"Subject: y\r\n\r\nno newline at the end");
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("From a@b.test Tue Nov 14 22:13:20 2023\n"));
        assert!(text.contains("\n>From here on\r\n>>From there\r\n"));
        assert!(text.contains("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"));
        let back: Vec<Vec<u8>> = mbox::MessageIterator::new(&out[..])
            .map(|m| m.expect("message").unwrap_contents())
            .collect();
        assert_eq!(back.len(), 2);
        assert_eq!(
            crate::store::archive_io::normalized(&back[0]),
            &raw[..raw.len() - 2]
        );
    }
}
