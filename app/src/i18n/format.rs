//! Dates in the browser's time zone and human sizes, per language.

use super::{Lang, TzOffset};

/// Format a Unix-ms time for a list: the time if today, else the date.
pub fn short_date(ms: i64, now_ms: i64, tz: TzOffset, lang: Lang) -> String {
    let (y, mo, d, h, mi) = civil(ms, tz);
    let (ny, nmo, nd, _, _) = civil(now_ms, tz);
    if (y, mo, d) == (ny, nmo, nd) {
        format!("{h:02}:{mi:02}")
    } else if y == ny {
        match lang {
            Lang::En => format!("{} {d}", MONTHS_EN[(mo - 1) as usize]),
            Lang::Fr => format!("{d} {}", MONTHS_FR[(mo - 1) as usize]),
        }
    } else {
        match lang {
            Lang::En => format!("{y}-{mo:02}-{d:02}"),
            Lang::Fr => format!("{d:02}/{mo:02}/{y}"),
        }
    }
}

/// Format a Unix-ms time in full (date and time, with the UTC offset).
pub fn long_date(ms: i64, tz: TzOffset, lang: Lang) -> String {
    let (y, mo, d, h, mi) = civil(ms, tz);
    let sign = if tz.0 < 0 { '-' } else { '+' };
    let off = format!("UTC{sign}{:02}:{:02}", tz.0.abs() / 60, tz.0.abs() % 60);
    match lang {
        Lang::En => format!(
            "{} {d}, {y} {h:02}:{mi:02} ({off})",
            MONTHS_EN[(mo - 1) as usize]
        ),
        Lang::Fr => format!(
            "{d} {} {y} à {h:02}:{mi:02} ({off})",
            MONTHS_FR[(mo - 1) as usize]
        ),
    }
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_FR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// Civil date and time of a Unix-ms instant at a UTC offset
/// (Howard Hinnant's days-from-civil inverse).
pub(super) fn civil(ms: i64, tz: TzOffset) -> (i64, u32, u32, u32, u32) {
    let secs = ms.div_euclid(1000) + tz.0 as i64 * 60;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32)
}

/// Human size: 512 B, 12 KB, 3.4 MB.
pub fn size(bytes: i64, lang: Lang) -> String {
    let (unit_k, unit_m) = match lang {
        Lang::En => ("KB", "MB"),
        Lang::Fr => ("Ko", "Mo"),
    };
    if bytes < 1024 {
        match lang {
            Lang::En => format!("{bytes} B"),
            Lang::Fr => format!("{bytes} o"),
        }
    } else if bytes < 1024 * 1024 {
        format!("{} {unit_k}", (bytes + 512) / 1024)
    } else {
        let mb = format!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
        let mb = if lang == Lang::Fr {
            mb.replace('.', ",")
        } else {
            mb
        };
        format!("{mb} {unit_m}")
    }
}
