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

/// How far along: messages out of a known number, or bytes of a file.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    Messages(u64),
    Bytes(u64, u64),
    Unknown,
}

/// A progress line on a terminal (nothing when stderr is not one): the
/// count, the rate, and how long is left.
pub struct Progress {
    on: bool,
    verb: &'static str,
    start: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    pub fn new(verb: &'static str) -> Progress {
        let now = std::time::Instant::now();
        Progress {
            on: std::io::stderr().is_terminal(),
            verb,
            start: now,
            last: now,
        }
    }

    pub fn show(&mut self, n: u64, of: Of) {
        if self.on && self.last.elapsed().as_millis() >= 200 {
            self.last = std::time::Instant::now();
            eprint!(
                "\r{}\x1b[K",
                self.line(n, of, self.start.elapsed().as_secs_f64())
            );
        }
    }

    /// "imported 1200 of 5000 messages (24 %), 410/s, 9 s left".
    pub fn line(&self, n: u64, of: Of, secs: f64) -> String {
        let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let (what, done) = match of {
            Of::Messages(total) if total > 0 => (
                format!("{n} of {total} messages"),
                Some(n as f64 / total as f64),
            ),
            Of::Bytes(read, total) if total > 0 => (
                format!(
                    "{n} messages, {} of {} MB",
                    read / 1_000_000,
                    total / 1_000_000
                ),
                Some(read as f64 / total as f64),
            ),
            _ => (format!("{n} messages"), None),
        };
        let mut line = format!("{} {what}", self.verb);
        if let Some(f) = done.filter(|f| *f > 0.0) {
            let f = f.min(1.0);
            let left = secs * (1.0 - f) / f;
            line.push_str(&format!(
                " ({:.0} %), {rate:.0}/s, {left:.0} s left",
                f * 100.0
            ));
        } else if secs > 0.0 {
            line.push_str(&format!(", {rate:.0}/s"));
        }
        line
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

/// Messages gathered for one transaction: up to this many, or this many
/// bytes, whichever comes first (memory stays bounded whatever the
/// archive's size).
const BATCH_MESSAGES: usize = 256;
const BATCH_BYTES: usize = 16 << 20;

/// The import's messages, committed a batch at a time.
struct Batcher<'a> {
    store: &'a Store,
    user: UserId,
    pending: Vec<(Vec<u8>, Option<i64>, String)>,
    bytes: usize,
    summary: ImportSummary,
}

impl Batcher<'_> {
    async fn push(
        &mut self,
        raw: Vec<u8>,
        at: Option<i64>,
        source: &str,
    ) -> Result<(), StoreError> {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.bytes += raw.len();
        self.pending.push((raw, at, source.to_string()));
        if self.pending.len() >= BATCH_MESSAGES || self.bytes >= BATCH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch: Vec<Import<'_>> = self
            .pending
            .iter()
            .map(|(raw, at, source)| Import {
                raw,
                received_at: *at,
                source,
            })
            .collect();
        for r in self.store.import_batch(self.user, &batch).await? {
            match r {
                Imported::Added(_) => self.summary.added += 1,
                Imported::Duplicate => self.summary.duplicates += 1,
            }
        }
        self.pending.clear();
        self.bytes = 0;
        Ok(())
    }

    fn done(&self) -> u64 {
        self.summary.added + self.summary.duplicates + self.pending.len() as u64
    }
}

/// Import everything at `path` into `user`'s archive.
pub async fn import(store: &Store, user: UserId, path: &Path) -> anyhow::Result<ImportSummary> {
    let mut b = Batcher {
        store,
        user,
        pending: Vec::new(),
        bytes: 0,
        summary: ImportSummary::default(),
    };
    let mut progress = Progress::new("imported");
    let source = path.display().to_string();
    match kind_of(path)? {
        Kind::Mbox(p) => {
            let total = std::fs::metadata(&p)?.len();
            let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let reader = BufReader::new(CountingReader {
                inner: std::fs::File::open(&p)?,
                read: counted.clone(),
            });
            for m in mbox::MessageIterator::new(reader) {
                match m {
                    Ok(m) => {
                        let at = (m.internal_date() > 0).then(|| m.internal_date() as i64 * 1000);
                        // the blank line before the next "From " is the
                        // mbox's, not the message's
                        let mut c = m.unwrap_contents();
                        if c.ends_with(b"\n\n") {
                            c.pop();
                        }
                        b.push(c, at, &source).await?;
                    }
                    Err(e) => {
                        eprintln!("{source}: cannot read: {e}");
                        b.summary.failed += 1;
                        break;
                    }
                }
                progress.show(
                    b.done(),
                    Of::Bytes(counted.load(std::sync::atomic::Ordering::Relaxed), total),
                );
            }
        }
        Kind::Maildir(p) => {
            let total = maildir_count(&p);
            for folder in maildir::FolderIterator::new(&p, Some("."))? {
                let folder = match folder {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("{source}: cannot read a folder: {e}");
                        b.summary.failed += 1;
                        continue;
                    }
                };
                for m in folder {
                    match m {
                        Ok(m) => {
                            let at =
                                (m.internal_date() > 0).then(|| m.internal_date() as i64 * 1000);
                            let src = m.path().display().to_string();
                            b.push(m.unwrap_contents(), at, &src).await?;
                        }
                        Err(e) => {
                            eprintln!("{source}: cannot read a message: {e}");
                            b.summary.failed += 1;
                        }
                    }
                    progress.show(b.done(), Of::Messages(total));
                }
            }
        }
        Kind::EmlFolder(p) => {
            let mut files = Vec::new();
            eml_files(&p, &mut files)?;
            let total = files.len() as u64;
            for f in files {
                match std::fs::read(&f) {
                    Ok(raw) => b.push(raw, None, &f.display().to_string()).await?,
                    Err(e) => {
                        eprintln!("{}: cannot read: {e}", f.display());
                        b.summary.failed += 1;
                    }
                }
                progress.show(b.done(), Of::Messages(total));
            }
        }
        Kind::Eml(p) => {
            let raw = std::fs::read(&p)?;
            b.push(raw, None, &source).await?;
        }
    }
    b.flush().await?;
    progress.done();
    Ok(b.summary)
}

/// How many messages a Maildir (and its Maildir++ subfolders) holds, for
/// the progress line: the file names only, nothing read.
fn maildir_count(root: &Path) -> u64 {
    let mut n = 0;
    let mut dirs = vec![root.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(root) {
        dirs.extend(
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path()),
        );
    }
    for d in dirs {
        for sub in ["cur", "new"] {
            if let Ok(rd) = std::fs::read_dir(d.join(sub)) {
                n += rd.count() as u64;
            }
        }
    }
    n
}

/// A reader that counts the bytes read (the mbox's progress).
struct CountingReader<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
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
    let total = store.mailbox_total(user).await?;
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
        progress.show(n, Of::Messages(total));
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
