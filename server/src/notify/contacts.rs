//! A user's own contact points, and their proofs: an alternate address
//! counts once the link mailed to it is opened (7 days); a mobile once the
//! code texted to it is typed (10 minutes, five tries). What an
//! administrator or the directory sets counts at once
//! ([`Store::set_contact`] with their source).

use app::i18n::Lang;

use super::sms::{normalize_mobile, Gateway};
use super::texts;
use crate::auth::token;
use crate::store::admin::normalize_address;
use crate::store::contacts::{Channel, ContactSource};
use crate::store::{now_ms, Store, StoreError, UserId};

const LINK_TTL_MS: i64 = 7 * 24 * 3_600_000;
const CODE_TTL_MS: i64 = 10 * 60_000;
const CODE_TRIES: i64 = 5;

/// Why a contact point was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("not an e-mail address")]
    BadAddress,
    #[error("that is the account's own address")]
    OwnAddress,
    #[error("{0}")]
    BadMobile(&'static str),
    #[error("no SMS gateway is configured: a mobile number cannot be confirmed")]
    NoGateway,
    #[error("the gateway did not take the SMS: {0}")]
    NotSent(String),
    #[error("wrong or expired code")]
    WrongCode,
    #[error("the link is not valid (used, replaced or expired)")]
    BadLink,
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

impl From<StoreError> for ContactError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "contact point: store failed");
        ContactError::Unavailable
    }
}

/// Set the user's alternate address and mail it the link that proves it.
/// `None` (or blank) removes it.
pub async fn set_alt_email(
    store: &Store,
    hostname: &str,
    public_url: &str,
    user: UserId,
    typed: Option<&str>,
    lang: Lang,
) -> Result<(), ContactError> {
    let Some(typed) = typed.map(str::trim).filter(|t| !t.is_empty()) else {
        store
            .set_contact(user, Channel::Email, None, ContactSource::User)
            .await?;
        return Ok(());
    };
    let address = normalize_address(typed).map_err(|_| ContactError::BadAddress)?;
    let account = store
        .account(user)
        .await?
        .ok_or(ContactError::Unavailable)?;
    if account.address.eq_ignore_ascii_case(&address)
        || store
            .account_by_address(&address)
            .await?
            .is_some_and(|a| a.user == user)
    {
        return Err(ContactError::OwnAddress);
    }
    store
        .set_contact(user, Channel::Email, Some(&address), ContactSource::User)
        .await?;
    let secret = token::random_token();
    store
        .put_contact_check(
            user,
            Channel::Email,
            &address,
            &token::sha256(secret.as_bytes()),
            now_ms() + LINK_TTL_MS,
        )
        .await?;
    let link = format!(
        "{}/contacts/verify?u={}&t={secret}",
        public_url.trim_end_matches('/'),
        user.0
    );
    let (subject, text) = texts::verify_mail(lang, &account.address, &link);
    super::queue_mail(store, hostname, &address, &subject, &text, "contact").await?;
    tracing::info!(%user, "alternate address set; its link mailed");
    Ok(())
}

/// The link mailed to an alternate address was opened: it counts. The
/// address it proved.
pub async fn verify_email(store: &Store, user: i64, secret: &str) -> Result<String, ContactError> {
    let user = UserId(user);
    let check = store
        .contact_check(user, Channel::Email)
        .await?
        .ok_or(ContactError::BadLink)?;
    if check.expires_at <= now_ms()
        || check.tries > 20
        || !token::same(&check.secret_hash, &token::sha256(secret.as_bytes()))
    {
        return Err(ContactError::BadLink);
    }
    if !store
        .verify_contact(user, Channel::Email, &check.value)
        .await?
    {
        return Err(ContactError::BadLink);
    }
    tracing::info!(%user, "alternate address confirmed");
    Ok(check.value)
}

/// Set the user's mobile and text it a code; `None` (or blank) removes it.
pub async fn set_mobile(
    store: &Store,
    gateway: Option<&Gateway>,
    user: UserId,
    typed: Option<&str>,
    lang: Lang,
) -> Result<(), ContactError> {
    let Some(typed) = typed.map(str::trim).filter(|t| !t.is_empty()) else {
        store
            .set_contact(user, Channel::Sms, None, ContactSource::User)
            .await?;
        return Ok(());
    };
    let number = normalize_mobile(typed).map_err(ContactError::BadMobile)?;
    let gateway = gateway.ok_or(ContactError::NoGateway)?;
    store
        .set_contact(user, Channel::Sms, Some(&number), ContactSource::User)
        .await?;
    let n = u32::from_be_bytes(token::random_bytes::<4>()) % 1_000_000;
    let code = format!("{n:06}");
    store
        .put_contact_check(
            user,
            Channel::Sms,
            &number,
            &token::sha256(code.as_bytes()),
            now_ms() + CODE_TTL_MS,
        )
        .await?;
    gateway
        .send(
            &format!("verify-{}", user.0),
            &number,
            &texts::verify_sms(lang, &code),
        )
        .await
        .map_err(ContactError::NotSent)?;
    tracing::info!(%user, "mobile set; its code texted");
    Ok(())
}

/// The code texted to the mobile was typed.
pub async fn confirm_mobile(store: &Store, user: UserId, typed: &str) -> Result<(), ContactError> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let check = store
        .contact_check(user, Channel::Sms)
        .await?
        .ok_or(ContactError::WrongCode)?;
    if check.expires_at <= now_ms()
        || check.tries > CODE_TRIES
        || !token::same(&check.secret_hash, &token::sha256(code.as_bytes()))
    {
        return Err(ContactError::WrongCode);
    }
    if !store
        .verify_contact(user, Channel::Sms, &check.value)
        .await?
    {
        return Err(ContactError::WrongCode);
    }
    tracing::info!(%user, "mobile confirmed");
    Ok(())
}
