//! Users' contact points (a mobile, a backup address) from the directory
//! or a CSV file: what the source has fills in and updates the points it
//! set before, and clears them when it no longer has them; it never
//! overwrites what a user set in Settings (nor, from the directory, what an
//! administrator set).

use super::plan::ContactEntry;
use crate::notify::sms::normalize_mobile;
use crate::store::admin::normalize_address;
use crate::store::contacts::{Channel, ContactPoint, ContactSource};
use crate::store::{Store, StoreError};

/// Whether `source` may change a point that `current` holds.
fn may_change(current: Option<&ContactPoint>, source: ContactSource) -> bool {
    match current.map(|p| p.source.as_str()) {
        None => true,
        Some("user") => false,
        Some("admin") => source == ContactSource::Admin,
        Some(_) => true,
    }
}

/// Apply the source's points; how many changed, and warnings (a value that
/// is not a number or an address, a user not found).
pub async fn apply(
    store: &Store,
    entries: &[ContactEntry],
    source: ContactSource,
) -> Result<(usize, Vec<String>), StoreError> {
    let mut changed = 0;
    let mut warnings = Vec::new();
    for e in entries {
        let Some(account) = store.account_by_address(&e.address).await? else {
            continue;
        };
        let have = store.contact_points(account.user).await?;
        let wanted = [
            (
                Channel::Sms,
                e.mobile
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| normalize_mobile(v).map_err(|why| format!("{v:?}: {why}"))),
            ),
            (
                Channel::Email,
                e.alt_email
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| {
                        normalize_address(v)
                            .map_err(|_| format!("{v:?}: not an e-mail address"))
                            .and_then(|a| {
                                if a.eq_ignore_ascii_case(&account.address) {
                                    Err(format!("{a}: the user's own address"))
                                } else {
                                    Ok(a)
                                }
                            })
                    }),
            ),
        ];
        for (channel, value) in wanted {
            let current = have.get(channel);
            let value = match value {
                Some(Ok(v)) => Some(v),
                Some(Err(why)) => {
                    warnings.push(format!("{}: {why}: ignored", e.address));
                    continue;
                }
                None => None,
            };
            if !may_change(current, source) {
                continue;
            }
            match (&value, current) {
                (Some(v), Some(c)) if c.value == *v && c.source == source.as_str() => {}
                (Some(v), _) => {
                    store
                        .set_contact(account.user, channel, Some(v), source)
                        .await?;
                    changed += 1;
                }
                // the source no longer has it: only its own goes
                (None, Some(c))
                    if c.source == source.as_str() && source == ContactSource::Directory =>
                {
                    store
                        .set_contact(account.user, channel, None, source)
                        .await?;
                    changed += 1;
                }
                (None, _) => {}
            }
        }
    }
    Ok((changed, warnings))
}
