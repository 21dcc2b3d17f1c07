//! The SQL of Live Tracking: each query walks one time-ordered index
//! (named with INDEXED BY), user text is always a bound value (LIKE
//! patterns escaped, FTS terms quoted), and rows are read into [`TrackRow`].

use crate::store::db::{self, Backend};
use crate::store::fts::{self, Match, Part, Terms};

use super::{Cursor, Direction, Filter, Scope, Status, TrackRow};
use crate::store::{MessageId, Result, Store};

pub(super) enum Bind {
    Int(i64),
    Bool(bool),
    Text(String),
}

/// `LIKE` pattern containing `s` (with `\` as the escape).
pub(super) fn contains(s: &str) -> String {
    let mut p = String::from("%");
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// An exact address (local@domain), compared case-insensitively.
pub(super) fn is_address(s: &str) -> bool {
    s.split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !s.contains(' '))
}

/// Full-text query: each word a prefix term, in the subject.
pub(super) fn subject_match(s: &str, backend: Backend) -> Option<Match> {
    let mut t = Terms::default();
    for w in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
    {
        t.add(Some(Part::Subject), w);
    }
    t.query(backend)
}

/// The cursor condition on (time column, id column) for one side whose
/// kind is `mine`.
pub(super) fn keyset(
    sql: &mut String,
    binds: &mut Vec<Bind>,
    c: &Cursor,
    mine: u8,
    at: &str,
    id: &str,
    asc: bool,
) {
    let (lt, le) = if asc { (">", ">=") } else { ("<", "<=") };
    // in the page's order, at one instant, deliveries (1) come before
    // refusals (0) when newest first, and after them when oldest first
    let before_me = if asc { c.kind < mine } else { c.kind > mine };
    if c.kind == mine {
        sql.push_str(&format!(" AND ({at} {lt} ? OR ({at} = ? AND {id} {lt} ?))"));
        binds.extend([Bind::Int(c.at), Bind::Int(c.at), Bind::Int(c.id)]);
    } else if before_me {
        sql.push_str(&format!(" AND {at} {le} ?"));
        binds.push(Bind::Int(c.at));
    } else {
        sql.push_str(&format!(" AND {at} {lt} ?"));
        binds.push(Bind::Int(c.at));
    }
}

pub(super) fn delivery_row(r: &db::Row) -> Result<TrackRow> {
    Ok(TrackRow {
        id: r.try_get(0)?,
        refused: false,
        message: Some(MessageId(r.try_get(1)?)),
        at: r.try_get(2)?,
        mail_from: r.try_get(3)?,
        rcpt: r.try_get(4)?,
        subject: r.try_get(5)?,
        status: r.try_get(6)?,
        via_continuity: r.try_get(7)?,
        attempts: r.try_get(8)?,
        last_reply: r.try_get(9)?,
        inbound: r.try_get::<Option<i64>, _>(10)?.is_some(),
        client_ip: r.try_get::<Option<String>, _>(11)?.unwrap_or_default(),
    })
}

pub(super) fn refusal_row(r: &db::Row) -> Result<TrackRow> {
    Ok(TrackRow {
        id: r.try_get(0)?,
        refused: true,
        message: None,
        at: r.try_get(1)?,
        mail_from: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
        rcpt: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
        subject: String::new(),
        status: "rejected".into(),
        via_continuity: false,
        attempts: 0,
        last_reply: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
        inbound: true,
        client_ip: r.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
    })
}

pub(super) async fn fetch(
    store: &Store,
    sql: String,
    binds: Vec<Bind>,
    row: fn(&db::Row) -> Result<TrackRow>,
) -> Result<Vec<TrackRow>> {
    let mut q = db::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(i),
            Bind::Bool(b) => q.bind(b),
            Bind::Text(t) => q.bind(t),
        };
    }
    q.fetch_all(&store.read).await?.iter().map(row).collect()
}

pub(super) const DELIVERY_SELECT: &str =
    "SELECT d.id, d.message_id, d.received_at, m.mail_from, d.rcpt, \
     m.subject, d.status, d.via_continuity, d.attempts, COALESCE(d.last_reply, ''), d.domain_id, \
     m.client_ip FROM deliveries d JOIN messages m ON m.id = d.message_id";

/// The same, walking the given index of `deliveries` (each filter has one
/// in time order; SQLite is told which, so a page never depends on the
/// planner's guess).
pub(super) fn select_using(index: &str) -> String {
    DELIVERY_SELECT.replace(
        "FROM deliveries d ",
        &format!("FROM deliveries d INDEXED BY {index} "),
    )
}

/// The index for a query without a message list.
pub(super) fn index_for(scope: &Scope, f: &Filter) -> &'static str {
    if matches!(scope, Scope::User(_)) {
        "tracking_user"
    } else if is_address(f.recipient.trim()) {
        "tracking_rcpt"
    } else if f.domain.is_some() || matches!(scope, Scope::Domains(l) if l.len() == 1) {
        "tracking_domain"
    } else if f.status.is_some() {
        "tracking_status"
    } else {
        "tracking_time"
    }
}

/// Where candidate messages come from when a filter names them: the
/// subject's words (full-text index) or the sender's address (its index),
/// newest (or oldest) first, a chunk at a time.
pub(super) enum Source {
    Subject(Match),
    Sender(String),
}

pub(super) const CHUNK: i64 = 1000;

pub(super) fn scope_deliveries(sql: &mut String, binds: &mut Vec<Bind>, scope: &Scope) {
    match scope {
        Scope::All => {}
        Scope::Domains(list) => {
            let marks = vec!["?"; list.len()].join(",");
            sql.push_str(&format!(" AND d.domain_id IN ({marks})"));
            binds.extend(list.iter().map(|(d, _)| Bind::Int(d.0)));
        }
        Scope::User(u) => {
            sql.push_str(" AND d.user_id = ?");
            binds.push(Bind::Int(u.0));
        }
    }
}

pub(super) fn deliveries_sql(
    backend: Backend,
    scope: &Scope,
    f: &Filter,
    after: Option<Cursor>,
    limit: u32,
    asc: bool,
    messages: Option<&[i64]>,
) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut sql = match messages {
        Some(ids) => {
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            format!(
                "{} WHERE d.message_id IN ({list})",
                select_using("deliveries_message")
            )
        }
        None => format!("{} WHERE TRUE", select_using(index_for(scope, f))),
    };
    scope_deliveries(&mut sql, &mut binds, scope);
    if let Some(s) = f.since {
        sql.push_str(" AND d.received_at >= ?");
        binds.push(Bind::Int(s));
    }
    if let Some(u) = f.until {
        sql.push_str(" AND d.received_at < ?");
        binds.push(Bind::Int(u));
    }
    match f.direction {
        Some(Direction::Inbound) => sql.push_str(" AND d.domain_id IS NOT NULL"),
        Some(Direction::Outbound) => sql.push_str(" AND d.domain_id IS NULL"),
        None => {}
    }
    if let Some(d) = f.domain {
        sql.push_str(" AND d.domain_id = ?");
        binds.push(Bind::Int(d.0));
    }
    match f.status {
        Some(Status::Queued) => sql.push_str(" AND d.status IN ('queued', 'delivering')"),
        Some(Status::Delivered) => sql.push_str(" AND d.status = 'delivered'"),
        Some(Status::Delayed) => sql.push_str(" AND d.status = 'delayed'"),
        Some(Status::Bounced) => sql.push_str(" AND d.status = 'bounced'"),
        Some(Status::Expired) => sql.push_str(" AND d.status = 'expired'"),
        Some(Status::Rejected) | None => {}
    }
    if let Some(v) = f.via_continuity {
        sql.push_str(" AND d.via_continuity = ?");
        binds.push(Bind::Bool(v));
    }
    let sender = f.sender.trim();
    if is_address(sender) {
        sql.push_str(" AND lower(m.mail_from) = ?");
        binds.push(Bind::Text(sender.to_ascii_lowercase()));
    } else if !sender.is_empty() {
        // a correlated scalar subquery: SQLite turns a join condition (or an
        // EXISTS) into a Bloom filter built over every message first
        sql.push_str(
            " AND (SELECT ms.mail_from LIKE ? ESCAPE '\\' OR ms.header_from LIKE ? ESCAPE '\\' \
             FROM messages ms WHERE ms.id = d.message_id)",
        );
        binds.push(Bind::Text(contains(sender)));
        binds.push(Bind::Text(contains(sender)));
    }
    let rcpt = f.recipient.trim();
    if is_address(rcpt) {
        sql.push_str(" AND lower(d.rcpt) = ?");
        binds.push(Bind::Text(rcpt.to_ascii_lowercase()));
    } else if !rcpt.is_empty() {
        sql.push_str(" AND d.rcpt LIKE ? ESCAPE '\\'");
        binds.push(Bind::Text(contains(rcpt)));
    }
    if messages.is_none() {
        if let Some(m) = subject_match(&f.subject, backend) {
            // one probe of the full-text index per row of the viewer's own
            // walk: the work grows with what the scope holds, never with
            // other tenants' matches (an IN list would gather them all)
            sql.push_str(&format!(
                " AND (SELECT 1 FROM messages_fts WHERE {} \
                 AND {} = d.message_id) IS NOT NULL",
                m.condition("messages_fts"),
                fts::id_column(backend, "messages_fts")
            ));
            binds.extend(m.values().map(|v| Bind::Text(v.to_string())));
        }
    }
    if let Some(c) = after {
        keyset(&mut sql, &mut binds, &c, 1, "d.received_at", "d.id", asc);
    }
    let dir = if asc { "ASC" } else { "DESC" };
    sql.push_str(&format!(
        " ORDER BY d.received_at {dir}, d.id {dir} LIMIT ?"
    ));
    binds.push(Bind::Int(limit as i64));
    (sql, binds)
}

/// The refused recipient's domain, as its index has it.
pub(super) const RCPT_DOMAIN: &str = "lower(substr(json_extract(e.detail, '$.rcpt'), \
     instr(json_extract(e.detail, '$.rcpt'), '@') + 1))";

/// Refused transactions; `domain`: only those to this domain (one walk of
/// its index; several domains are merged by the caller).
pub(super) fn refusals_sql(
    f: &Filter,
    domain: Option<&str>,
    after: Option<Cursor>,
    limit: u32,
    asc: bool,
) -> (String, Vec<Bind>) {
    let sender = f.sender.trim();
    let rcpt = f.recipient.trim();
    let index = if is_address(rcpt) {
        "events_rejected_rcpt"
    } else if is_address(sender) {
        "events_rejected_sender"
    } else if domain.is_some() {
        "events_rejected_domain"
    } else {
        "events_rejected"
    };
    let mut sql = format!(
        "SELECT e.id, e.at, json_extract(e.detail, '$.mail_from'), \
         json_extract(e.detail, '$.rcpt'), json_extract(e.detail, '$.reply'), \
         json_extract(e.detail, '$.client_ip') FROM events e INDEXED BY {index} \
         WHERE e.kind = 'rejected'"
    );
    let mut binds = Vec::new();
    if let Some(d) = domain {
        sql.push_str(&format!(" AND {RCPT_DOMAIN} = ?"));
        binds.push(Bind::Text(d.to_ascii_lowercase()));
    }
    if let Some(s) = f.since {
        sql.push_str(" AND e.at >= ?");
        binds.push(Bind::Int(s));
    }
    if let Some(u) = f.until {
        sql.push_str(" AND e.at < ?");
        binds.push(Bind::Int(u));
    }
    if is_address(sender) {
        sql.push_str(" AND lower(json_extract(e.detail, '$.mail_from')) = ?");
        binds.push(Bind::Text(sender.to_ascii_lowercase()));
    } else if !sender.is_empty() {
        sql.push_str(" AND json_extract(e.detail, '$.mail_from') LIKE ? ESCAPE '\\'");
        binds.push(Bind::Text(contains(sender)));
    }
    if is_address(rcpt) {
        sql.push_str(" AND lower(json_extract(e.detail, '$.rcpt')) = ?");
        binds.push(Bind::Text(rcpt.to_ascii_lowercase()));
    } else if !rcpt.is_empty() {
        sql.push_str(" AND json_extract(e.detail, '$.rcpt') LIKE ? ESCAPE '\\'");
        binds.push(Bind::Text(contains(rcpt)));
    }
    if let Some(c) = after {
        keyset(&mut sql, &mut binds, &c, 0, "e.at", "e.id", asc);
    }
    let dir = if asc { "ASC" } else { "DESC" };
    sql.push_str(&format!(" ORDER BY e.at {dir}, e.id {dir} LIMIT ?"));
    binds.push(Bind::Int(limit as i64));
    (sql, binds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tracking::Cursor;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            at: 1_700_000_000_000,
            kind: 1,
            id: 42,
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in ["", "1.2", "1.2.3.4", "a.1.2", "1.7.2", "1.1.x"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn user_text_is_quoted_never_sql_or_fts_syntax() {
        assert_eq!(contains("50%_off\\"), "%50\\%\\_off\\\\%");
        let sqlite = subject_match("invoice \"NEAR\" OR*", Backend::Sqlite).unwrap();
        assert_eq!(
            sqlite.values().collect::<Vec<_>>(),
            ["subject : \"invoice\"* AND subject : \"NEAR\"* AND subject : \"OR\"*"]
        );
        let pg = subject_match("invoice \"NEAR\" OR*", Backend::Postgres).unwrap();
        assert_eq!(
            pg.condition("messages_fts"),
            "messages_fts.subject_words @@ to_tsquery('continuity', ?)"
        );
        assert_eq!(
            pg.values().collect::<Vec<_>>(),
            ["'invoice':* & 'NEAR':* & 'OR':*"]
        );
        assert!(subject_match(" ,; ", Backend::Sqlite).is_none());
        assert!(is_address("bob@example.com"));
        assert!(!is_address("@example.com"));
        assert!(!is_address("bob"));
    }
}
