//! What users are told, in French and English: the mail and the SMS of a
//! start and an end, and the proofs of a contact point. Never a secret;
//! the webmail's address always.

use app::i18n::Lang;

use crate::store::notices::NoticeKind;

/// A notice's mail: subject and text.
pub fn mail(lang: Lang, kind: NoticeKind, domain: &str, webmail: &str) -> (String, String) {
    match (lang, kind) {
        (Lang::Fr, NoticeKind::Start) => (
            format!("Messagerie {domain} indisponible : utilisez le webmail de secours"),
            format!(
                "Bonjour,\r\n\r\nLe serveur de messagerie de {domain} est indisponible. \
                 Vos e-mails continuent d'arriver : vous pouvez les lire, y répondre et en \
                 envoyer sur le webmail de secours :\r\n\r\n    {webmail}\r\n\r\n\
                 Connectez-vous avec votre adresse e-mail et votre mot de passe d'urgence. \
                 Vous serez prévenu quand le service habituel reviendra.\r\n\r\n\
                 Ce message vous est envoyé automatiquement par le Continuity Service de {domain}.\r\n"
            ),
        ),
        (Lang::Fr, NoticeKind::End) => (
            format!("Messagerie {domain} rétablie"),
            format!(
                "Bonjour,\r\n\r\nLe serveur de messagerie de {domain} fonctionne de nouveau. \
                 Les e-mails reçus pendant l'interruption ont été remis dans votre messagerie \
                 habituelle : vous pouvez reprendre votre application de messagerie.\r\n\r\n\
                 Le webmail de secours reste consultable : {webmail}\r\n\r\n\
                 Ce message vous est envoyé automatiquement par le Continuity Service de {domain}.\r\n"
            ),
        ),
        (Lang::En, NoticeKind::Start) => (
            format!("{domain} mail is down: use the continuity webmail"),
            format!(
                "Hello,\r\n\r\nThe mail server of {domain} is unavailable. Your mail keeps \
                 arriving: you can read it, reply and send from the continuity webmail:\r\n\r\n    \
                 {webmail}\r\n\r\nLog in with your e-mail address and your emergency password. \
                 You will be told when the usual service is back.\r\n\r\n\
                 This message is sent automatically by the Continuity Service of {domain}.\r\n"
            ),
        ),
        (Lang::En, NoticeKind::End) => (
            format!("{domain} mail is back"),
            format!(
                "Hello,\r\n\r\nThe mail server of {domain} works again. The mail received \
                 during the interruption has been delivered to your usual mailbox: you can go \
                 back to your usual mail app.\r\n\r\nThe continuity webmail stays open: \
                 {webmail}\r\n\r\n\
                 This message is sent automatically by the Continuity Service of {domain}.\r\n"
            ),
        ),
    }
}

/// A notice's SMS (one segment where it can be).
pub fn sms(lang: Lang, kind: NoticeKind, domain: &str, webmail: &str) -> String {
    match (lang, kind) {
        (Lang::Fr, NoticeKind::Start) => format!(
            "Messagerie {domain} indisponible. Lisez et envoyez vos e-mails sur {webmail} \
             (mot de passe d'urgence)."
        ),
        (Lang::Fr, NoticeKind::End) => format!(
            "Messagerie {domain} rétablie : vos e-mails sont dans votre messagerie habituelle."
        ),
        (Lang::En, NoticeKind::Start) => format!(
            "{domain} mail is down. Read and send your mail at {webmail} (emergency password)."
        ),
        (Lang::En, NoticeKind::End) => {
            format!("{domain} mail is back: your mail is in your usual mailbox.")
        }
    }
}

/// The mail that proves an alternate address.
pub fn verify_mail(lang: Lang, address: &str, link: &str) -> (String, String) {
    match lang {
        Lang::Fr => (
            "Confirmez votre adresse de secours".to_string(),
            format!(
                "Bonjour,\r\n\r\n{address} veut être prévenu à cette adresse si sa messagerie \
                 est interrompue. Pour le confirmer, ouvrez ce lien (valable 7 jours) :\r\n\r\n    \
                 {link}\r\n\r\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\r\n"
            ),
        ),
        Lang::En => (
            "Confirm your backup address".to_string(),
            format!(
                "Hello,\r\n\r\n{address} wants to be told at this address when their mail is \
                 interrupted. To confirm, open this link (valid for 7 days):\r\n\r\n    {link}\r\n\r\n\
                 If you did not ask for this, ignore this message.\r\n"
            ),
        ),
    }
}

/// The SMS that proves a mobile number.
pub fn verify_sms(lang: Lang, code: &str) -> String {
    match lang {
        Lang::Fr => format!("Continuity : votre code de confirmation est {code}"),
        Lang::En => format!("Continuity: your confirmation code is {code}"),
    }
}
