//! French and English. The server picks the language (cookie, else
//! Accept-Language) and provides it as context; the browser reads the same
//! choice back from `<html lang>` when it hydrates. French wording follows
//! the seed manual's vocabulary (Continuity Service, mot de passe d'urgence).
//!
//! Here: the language choice; [`webmail`] the webmail's texts, [`admin`]
//! the Control Panel's (the seed's words), [`outbound`] its outbound page's,
//! [`security`] two-step login's, [`notify`] users told of outages,
//! [`tracking`] Email Live Tracking's, [`format`] dates and sizes.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

/// The browser's UTC offset in minutes east of UTC (e.g. +60 for Paris in
/// winter), so dates show in local time on both server and browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TzOffset(pub i32);

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }
    /// The best of our languages for an Accept-Language header (q-values
    /// respected; English when nothing matches).
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::from_code(primary) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, lang));
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Fr,
            Lang::Fr => Lang::En,
        }
    }
    pub fn t(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }
}

mod admin;
mod format;
mod notify;
mod outbound;
mod security;
mod tracking;
mod webmail;
mod words;

pub use admin::{AdminStrings, ADMIN_EN, ADMIN_FR};
pub use format::{long_date, short_date, size};
pub use notify::{NotifyStrings, NOTIFY_EN, NOTIFY_FR};
pub use outbound::{OutboundStrings, OUTBOUND_EN, OUTBOUND_FR};
pub use security::{SecurityStrings, SECURITY_EN, SECURITY_FR};
pub use tracking::{TrackingStrings, TRACKING_EN, TRACKING_FR};
pub use webmail::{Strings, EN, FR};
pub use words::{mode_name, reason_text, refusal_text, refusals_text, sync_summary, tls_mode_name};

#[cfg(test)]
mod tests {
    use super::format::civil;
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Lang::from_accept_language("fr-FR,fr;q=0.9,en;q=0.8"),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_accept_language("de-DE,en;q=0.5,fr;q=0.7"),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language("de, it"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr;q=0"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }

    #[test]
    fn dates_are_local_and_localized() {
        // 2026-11-28 10:00 UTC
        let t = 1_795_860_000_000;
        let paris = TzOffset(60);
        assert_eq!(short_date(t, t + 3_600_000, paris, Lang::Fr), "11:00");
        assert_eq!(
            short_date(t, t + 3 * 86_400_000, paris, Lang::Fr),
            "28 nov."
        );
        assert_eq!(short_date(t, t + 3 * 86_400_000, paris, Lang::En), "Nov 28");
        assert_eq!(
            short_date(t, t + 400 * 86_400_000, paris, Lang::Fr),
            "28/11/2026"
        );
        assert_eq!(
            long_date(t, TzOffset(-300), Lang::En),
            "Nov 28, 2026 05:00 (UTC-05:00)"
        );
        assert_eq!(
            long_date(t, paris, Lang::Fr),
            "28 nov. 2026 à 11:00 (UTC+01:00)"
        );
        assert_eq!(civil(0, TzOffset(0)), (1970, 1, 1, 0, 0));
        assert_eq!(civil(951_782_400_000, TzOffset(0)), (2000, 2, 29, 0, 0));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(900, Lang::En), "900 B");
        assert_eq!(size(12_000, Lang::Fr), "12 Ko");
        assert_eq!(size(3_500_000, Lang::Fr), "3,3 Mo");
    }
}
