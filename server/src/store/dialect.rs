//! SQLite's dialect as PostgreSQL reads it: the store's statements are
//! written once, for SQLite, and [`for_postgres`] rewrites what the two
//! say differently (see [`super::db`]).

use std::borrow::Cow;

/// A statement written for SQLite, as PostgreSQL reads it:
/// - `?` → `$1`, `$2`, … and `?NNN` → `$NNN` (outside quotes and comments);
/// - SQLite's planner hints dropped: `INDEXED BY name`, the unary `+`
///   that keeps SQLite from using an index on a column, and `CROSS JOIN …
///   ON` (SQLite's way to fix the join order) as a plain `JOIN` (PostgreSQL's
///   planner goes by statistics);
/// - `LIKE` → `ILIKE` (SQLite's LIKE ignores case);
/// - `json_extract(x, '$.key')` → `(x::jsonb ->> 'key')`, `json_object(`
///   → `json_build_object(` (stored as text), `instr(` → `strpos(`, and a
///   list of ids given as JSON, `SELECT value FROM json_each(?)`, read with
///   `json_array_elements_text`.
///
/// What cannot be said alike (full-text search, sequences) is written for
/// each backend where it is used.
pub fn for_postgres(sql: &str) -> Cow<'_, str> {
    let mut s = Cow::Borrowed(sql);
    if s.contains("SELECT value FROM json_each(?)") {
        s = Cow::Owned(s.replace(
            "SELECT value FROM json_each(?)",
            "SELECT value::bigint FROM json_array_elements_text(?::json) AS value",
        ));
    }
    if s.contains("json_extract(") {
        s = Cow::Owned(json_paths(&s));
    }
    if s.contains("CROSS JOIN") {
        s = Cow::Owned(s.replace("CROSS JOIN", "JOIN"));
    }
    if s.contains("json_object(") {
        s = Cow::Owned(s.replace("json_object(", "json_build_object("));
    }
    if s.contains("instr(") {
        s = Cow::Owned(s.replace("instr(", "strpos("));
    }
    if !s.contains(['?', '+']) && !s.contains("INDEXED BY") && !s.contains("LIKE") {
        return s;
    }
    let src = s.as_ref();
    let mut out = String::with_capacity(src.len() + 16);
    let mut n = 0u32;
    // the last thing copied ends an operand (a name, a number, `)`, a quote)
    let mut after_operand = false;
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                let close = src[i + 1..]
                    .find(c as char)
                    .map_or(b.len(), |j| i + 1 + j + 1);
                out.push_str(&src[i..close]);
                i = close;
                after_operand = true;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = src[i..].find('\n').map_or(b.len(), |j| i + j + 1);
                out.push_str(&src[i..end]);
                i = end;
            }
            b'?' => {
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    let k: u32 = src[i + 1..i + 1 + digits].parse().unwrap_or(0);
                    n = n.max(k);
                    out.push('$');
                    out.push_str(&src[i + 1..i + 1 + digits]);
                } else {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                i += 1 + digits;
                after_operand = true;
            }
            b'+' if !after_operand && b.get(i + 1).is_some_and(|d| d.is_ascii_alphabetic()) => {
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let len = b[i..]
                    .iter()
                    .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_' || **d == b'.')
                    .count();
                let word = &src[i..i + len];
                if word == "INDEXED" && src[i + len..].starts_with(" BY ") {
                    let rest = i + len + 4;
                    let name = b[rest..]
                        .iter()
                        .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_')
                        .count();
                    i = rest + name;
                    if out.ends_with(' ') && b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    continue;
                }
                if word == "LIKE" {
                    out.push_str("ILIKE");
                } else {
                    out.push_str(word);
                }
                after_operand = !matches!(
                    word,
                    "WHERE"
                        | "AND"
                        | "OR"
                        | "ON"
                        | "NOT"
                        | "SELECT"
                        | "BY"
                        | "WHEN"
                        | "THEN"
                        | "ELSE"
                        | "IN"
                        | "LIKE"
                        | "IS"
                        | "SET"
                        | "VALUES"
                        | "RETURNING"
                );
                i += len;
            }
            _ => {
                out.push(c as char);
                if !c.is_ascii_whitespace() {
                    after_operand = c == b')';
                }
                i += 1;
                // multi-byte UTF-8: copy the rest of the character
                while i < b.len() && (b[i] & 0xC0) == 0x80 {
                    out.pop();
                    let start = i - 1;
                    let end = (i..b.len())
                        .find(|&j| (b[j] & 0xC0) != 0x80)
                        .unwrap_or(b.len());
                    out.push_str(&src[start..end]);
                    i = end;
                }
            }
        }
    }
    Cow::Owned(out)
}

/// `json_extract(x, '$.key')` → `(x::jsonb ->> 'key')`.
fn json_paths(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("json_extract(") {
        out.push_str(&rest[..at]);
        let args = &rest[at + "json_extract(".len()..];
        let parsed = args.find(", '$.").and_then(|comma| {
            let key_start = comma + ", '$.".len();
            let key_len = args[key_start..].find("')")?;
            Some((
                &args[..comma],
                &args[key_start..key_start + key_len],
                key_start + key_len + 2,
            ))
        });
        match parsed {
            Some((x, key, used)) => {
                out.push_str(&format!("({x}::jsonb ->> '{key}')"));
                rest = &args[used..];
            }
            None => {
                out.push_str("json_extract(");
                rest = args;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::for_postgres;

    #[test]
    fn placeholders_are_numbered_outside_quotes_and_comments() {
        assert_eq!(
            for_postgres("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(
            for_postgres("SELECT '?', \"a?\" -- why?\nFROM t WHERE x = ?"),
            "SELECT '?', \"a?\" -- why?\nFROM t WHERE x = $1"
        );
        assert_eq!(for_postgres("SELECT 1"), "SELECT 1");
        assert_eq!(
            for_postgres("SELECT 'it''s ?' WHERE a = ?"),
            "SELECT 'it''s ?' WHERE a = $1"
        );
        assert_eq!(
            for_postgres(
                "SELECT id FROM u WHERE a = ?1 UNION SELECT id FROM v WHERE b = ?1 AND c = ?2"
            ),
            "SELECT id FROM u WHERE a = $1 UNION SELECT id FROM v WHERE b = $1 AND c = $2"
        );
        assert_eq!(for_postgres("SELECT 'é', ? + 1"), "SELECT 'é', $1 + 1");
        assert_eq!(for_postgres("SELECT 'é' || ?"), "SELECT 'é' || $1");
    }

    #[test]
    fn sqlite_hints_and_dialect_become_postgresql() {
        assert_eq!(
            for_postgres(
                "SELECT x FROM mailbox mb INDEXED BY mailbox_uids WHERE +mb.user_id = ? AND +folder = ? AND n = a + b"
            ),
            "SELECT x FROM mailbox mb WHERE mb.user_id = $1 AND folder = $2 AND n = a + b"
        );
        assert_eq!(
            for_postgres("SELECT 1 FROM t WHERE id IN (SELECT value FROM json_each(?))"),
            "SELECT 1 FROM t WHERE id IN (SELECT value::bigint FROM json_array_elements_text($1::json) AS value)"
        );
        assert_eq!(
            for_postgres("SELECT json_extract(e.detail, '$.rcpt') FROM e WHERE lower(json_extract(detail, '$.mail_from')) LIKE ? ESCAPE '\\'"),
            "SELECT (e.detail::jsonb ->> 'rcpt') FROM e WHERE lower((detail::jsonb ->> 'mail_from')) ILIKE $1 ESCAPE '\\'"
        );
        assert_eq!(
            for_postgres("substr(a, instr(a, '@') + 1)"),
            "substr(a, strpos(a, '@') + 1)"
        );
        assert_eq!(
            for_postgres("FROM a CROSS JOIN b ON b.x = a.x"),
            "FROM a JOIN b ON b.x = a.x"
        );
        assert_eq!(
            for_postgres("VALUES (json_object('by', ?))"),
            "VALUES (json_build_object('by', $1))"
        );
    }
}
