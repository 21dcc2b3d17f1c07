//! French and English. The server picks the language (cookie, else
//! Accept-Language) and provides it as context; the browser reads the same
//! choice back from `<html lang>` when it hydrates. French wording follows
//! the seed manual's vocabulary (Continuity Service, mot de passe d'urgence).

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

/// Every fixed text of the webmail.
pub struct Strings {
    pub language_name: &'static str,
    pub switch_to: &'static str,
    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub address: &'static str,
    pub password: &'static str,
    pub log_in: &'static str,
    pub log_out: &'static str,
    pub login_invalid: &'static str,
    pub login_throttled: &'static str,
    pub unavailable: &'static str,
    pub session_expired: &'static str,
    pub logged_out: &'static str,
    pub password_set_ok: &'static str,
    pub forbidden_cross_site: &'static str,
    pub inbox: &'static str,
    pub sent: &'static str,
    pub search: &'static str,
    pub settings: &'static str,
    pub unread: &'static str,
    pub messages: &'static str,
    pub empty_folder: &'static str,
    pub no_results: &'static str,
    pub older: &'static str,
    pub newest: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub cc: &'static str,
    pub reply_to: &'static str,
    pub subject: &'static str,
    pub date: &'static str,
    pub received: &'static str,
    pub no_subject: &'static str,
    pub attachments: &'static str,
    pub download: &'static str,
    pub download_eml: &'static str,
    pub mark_unread: &'static str,
    pub mark_read: &'static str,
    pub back_to: &'static str,
    pub remote_blocked: &'static str,
    pub show_remote: &'static str,
    pub remote_shown: &'static str,
    pub via_continuity: &'static str,
    pub banner_outage: &'static str,
    pub banner_drill: &'static str,
    pub banner_recovering: &'static str,
    pub search_words: &'static str,
    pub since: &'static str,
    pub until: &'static str,
    pub has_attachment: &'static str,
    pub all_folders: &'static str,
    pub folder: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub error_title: &'static str,
    pub set_password_title: &'static str,
    pub set_password_intro: &'static str,
    pub policy_title: &'static str,
    pub policy_length: &'static str,
    pub policy_strength: &'static str,
    pub policy_address: &'static str,
    pub policy_tip: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub current_password: &'static str,
    pub save_password: &'static str,
    pub change_password_title: &'static str,
    pub password_changed: &'static str,
    pub link_invalid: &'static str,
    pub link_expired: &'static str,
    pub link_used: &'static str,
    pub problem_short: &'static str,
    pub problem_long: &'static str,
    pub problem_guessable: &'static str,
    pub problem_address: &'static str,
    pub problem_mismatch: &'static str,
    pub problem_current: &'static str,
    pub account: &'static str,
    pub emergency_password: &'static str,
    pub ldap_user_note: &'static str,
    pub local_user_note: &'static str,
    pub skip_to_content: &'static str,
    pub bad_form: &'static str,
}

pub static EN: Strings = Strings {
    language_name: "English",
    switch_to: "Français",
    login_title: "Log in to Continuity",
    login_intro: "Your mail stays available here while your mail server is unavailable. Log in with your emergency password.",
    address: "Email address",
    password: "Password",
    log_in: "Log in",
    log_out: "Log out",
    login_invalid: "The address or the password is not correct.",
    login_throttled: "Too many failed attempts. Wait a few minutes, then try again.",
    unavailable: "The service is temporarily unavailable. Try again in a moment.",
    session_expired: "Your session has ended. Log in again.",
    logged_out: "You are logged out.",
    password_set_ok: "Your password is set. You can log in now.",
    forbidden_cross_site: "This request came from another site and was refused.",
    inbox: "Inbox",
    sent: "Sent",
    search: "Search",
    settings: "Settings",
    unread: "unread",
    messages: "messages",
    empty_folder: "No messages here.",
    no_results: "No message matches.",
    older: "Older messages",
    newest: "Newest",
    from: "From",
    to: "To",
    cc: "Cc",
    reply_to: "Reply to",
    subject: "Subject",
    date: "Date",
    received: "Received",
    no_subject: "(no subject)",
    attachments: "Attachments",
    download: "Download",
    download_eml: "Download the original (.eml)",
    mark_unread: "Mark as unread",
    mark_read: "Mark as read",
    back_to: "Back to",
    remote_blocked: "Remote images and styles in this message were blocked to protect your privacy.",
    show_remote: "Show remote content",
    remote_shown: "Remote content is shown for this message.",
    via_continuity: "via Continuity",
    banner_outage: "Continuity Service is active: your mail server is unavailable. Your mail is kept here and will be delivered to your mailbox when the server is back.",
    banner_drill: "Continuity Service drill in progress: this is a rehearsal, your mail is delivered normally.",
    banner_recovering: "Your mail server is back: the mail kept during the outage is being delivered to it.",
    search_words: "Words",
    since: "From date",
    until: "To date",
    has_attachment: "With attachments",
    all_folders: "All folders",
    folder: "Folder",
    not_found_title: "Page not found",
    not_found_text: "There is nothing at this address.",
    error_title: "Something went wrong",
    set_password_title: "Set your emergency password",
    set_password_intro: "With this password you can log in to Continuity and read and send your mail when your mail server is unavailable.",
    policy_title: "Your password must:",
    policy_length: "be at least 12 characters long;",
    policy_strength: "be hard to guess (common words, names, dates and keyboard patterns are refused);",
    policy_address: "not contain your email address or its name part.",
    policy_tip: "Tip: a few unrelated words make a long, memorable and strong password.",
    new_password: "New password",
    confirm_password: "Confirm the new password",
    current_password: "Current password",
    save_password: "Save password",
    change_password_title: "Change your password",
    password_changed: "Your password has been changed.",
    link_invalid: "This link is not valid. Ask your administrator for a new one.",
    link_expired: "This link has expired. Ask your administrator for a new one.",
    link_used: "This link has already been used or replaced by a newer one.",
    problem_short: "The password is shorter than 12 characters.",
    problem_long: "The password is longer than 256 characters.",
    problem_guessable: "The password is too easy to guess.",
    problem_address: "The password contains your email address or its name part.",
    problem_mismatch: "The two passwords are not the same.",
    problem_current: "The current password is not correct.",
    account: "Account",
    emergency_password: "Emergency password",
    ldap_user_note: "Your account comes from your company directory: here you log in with your emergency password.",
    local_user_note: "Your password is kept by Continuity.",
    skip_to_content: "Skip to content",
    bad_form: "The form has expired. Reload the page and try again.",
};

pub static FR: Strings = Strings {
    language_name: "Français",
    switch_to: "English",
    login_title: "Connexion à Continuity",
    login_intro: "Vos e-mails restent disponibles ici pendant l'indisponibilité de votre serveur de messagerie. Connectez-vous avec votre mot de passe d'urgence.",
    address: "Adresse e-mail",
    password: "Mot de passe",
    log_in: "Se connecter",
    log_out: "Se déconnecter",
    login_invalid: "L'adresse ou le mot de passe n'est pas correct.",
    login_throttled: "Trop de tentatives échouées. Patientez quelques minutes, puis réessayez.",
    unavailable: "Le service est momentanément indisponible. Réessayez dans un instant.",
    session_expired: "Votre session a expiré. Connectez-vous de nouveau.",
    logged_out: "Vous êtes déconnecté.",
    password_set_ok: "Votre mot de passe est enregistré. Vous pouvez vous connecter.",
    forbidden_cross_site: "Cette requête provient d'un autre site et a été refusée.",
    inbox: "Boîte de réception",
    sent: "Envoyés",
    search: "Rechercher",
    settings: "Paramètres",
    unread: "non lus",
    messages: "messages",
    empty_folder: "Aucun message ici.",
    no_results: "Aucun message ne correspond.",
    older: "Messages plus anciens",
    newest: "Plus récents",
    from: "De",
    to: "À",
    cc: "Cc",
    reply_to: "Répondre à",
    subject: "Objet",
    date: "Date",
    received: "Reçu",
    no_subject: "(sans objet)",
    attachments: "Pièces jointes",
    download: "Télécharger",
    download_eml: "Télécharger l'original (.eml)",
    mark_unread: "Marquer comme non lu",
    mark_read: "Marquer comme lu",
    back_to: "Retour à",
    remote_blocked: "Les images et styles distants de ce message ont été bloqués pour protéger votre vie privée.",
    show_remote: "Afficher le contenu distant",
    remote_shown: "Le contenu distant est affiché pour ce message.",
    via_continuity: "via Continuity",
    banner_outage: "Le Continuity Service est actif : votre serveur de messagerie est indisponible. Vos e-mails sont conservés ici et seront remis dans votre boîte aux lettres dès le retour du serveur.",
    banner_drill: "Exercice du Continuity Service en cours : ceci est une simulation, vos e-mails sont remis normalement.",
    banner_recovering: "Votre serveur de messagerie est de retour : les e-mails conservés pendant la panne lui sont remis.",
    search_words: "Mots",
    since: "Du",
    until: "Au",
    has_attachment: "Avec pièces jointes",
    all_folders: "Tous les dossiers",
    folder: "Dossier",
    not_found_title: "Page introuvable",
    not_found_text: "Il n'y a rien à cette adresse.",
    error_title: "Une erreur s'est produite",
    set_password_title: "Définir votre mot de passe d'urgence",
    set_password_intro: "Avec ce mot de passe, vous pouvez vous connecter à Continuity pour lire et envoyer vos e-mails lorsque votre serveur de messagerie est indisponible.",
    policy_title: "Votre mot de passe doit :",
    policy_length: "comporter au moins 12 caractères ;",
    policy_strength: "être difficile à deviner (les mots courants, noms, dates et suites de touches sont refusés) ;",
    policy_address: "ne pas contenir votre adresse e-mail ni sa partie nom.",
    policy_tip: "Astuce : quelques mots sans rapport entre eux font un mot de passe long, facile à retenir et solide.",
    new_password: "Nouveau mot de passe",
    confirm_password: "Confirmez le nouveau mot de passe",
    current_password: "Mot de passe actuel",
    save_password: "Enregistrer le mot de passe",
    change_password_title: "Changer votre mot de passe",
    password_changed: "Votre mot de passe a été changé.",
    link_invalid: "Ce lien n'est pas valide. Demandez-en un nouveau à votre administrateur.",
    link_expired: "Ce lien a expiré. Demandez-en un nouveau à votre administrateur.",
    link_used: "Ce lien a déjà été utilisé ou remplacé par un lien plus récent.",
    problem_short: "Le mot de passe comporte moins de 12 caractères.",
    problem_long: "Le mot de passe comporte plus de 256 caractères.",
    problem_guessable: "Le mot de passe est trop facile à deviner.",
    problem_address: "Le mot de passe contient votre adresse e-mail ou sa partie nom.",
    problem_mismatch: "Les deux mots de passe ne sont pas identiques.",
    problem_current: "Le mot de passe actuel n'est pas correct.",
    account: "Compte",
    emergency_password: "Mot de passe d'urgence",
    ldap_user_note: "Votre compte provient de l'annuaire de votre entreprise : ici, vous vous connectez avec votre mot de passe d'urgence.",
    local_user_note: "Votre mot de passe est conservé par Continuity.",
    skip_to_content: "Aller au contenu",
    bad_form: "Le formulaire a expiré. Rechargez la page et réessayez.",
};

impl Strings {
    pub fn problem(&self, p: &crate::backend::PasswordProblem) -> &'static str {
        use crate::backend::PasswordProblem as P;
        match p {
            P::TooShort { .. } => self.problem_short,
            P::TooLong { .. } => self.problem_long,
            P::TooGuessable => self.problem_guessable,
            P::ContainsAddress => self.problem_address,
            P::Mismatch => self.problem_mismatch,
            P::WrongCurrent => self.problem_current,
        }
    }
    pub fn link_problem(&self, p: crate::backend::LinkProblem) -> &'static str {
        use crate::backend::LinkProblem as L;
        match p {
            L::Invalid => self.link_invalid,
            L::Expired => self.link_expired,
            L::Used => self.link_used,
        }
    }
}

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
fn civil(ms: i64, tz: TzOffset) -> (i64, u32, u32, u32, u32) {
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

/// The Control Panel's texts. The French is the seed manual's wording.
pub struct AdminStrings {
    pub control_panel: &'static str,
    pub scope_selection: &'static str,
    pub choose_domain: &'static str,
    pub no_domains: &'static str,
    pub security_settings: &'static str,
    pub continuity_service: &'static str,
    pub status_on: &'static str,
    pub status_off: &'static str,
    pub activate: &'static str,
    pub deactivate: &'static str,
    pub confirm_activate: &'static str,
    pub confirm_deactivate: &'static str,
    pub important: &'static str,
    pub standby_text: &'static str,
    pub archive_text: &'static str,
    pub all_users: &'static str,
    pub selected_users_only: &'static str,
    pub save: &'static str,
    pub switch_warning: &'static str,
    pub confirm: &'static str,
    pub cancel: &'static str,
    pub continuity_users: &'static str,
    pub add: &'static str,
    pub select_user: &'static str,
    pub autocomplete_hint: &'static str,
    pub remove_user: &'static str,
    pub user: &'static str,
    pub no_selected_users: &'static str,
    pub applies_to_all: &'static str,
    pub done_activated: &'static str,
    pub done_deactivated: &'static str,
    pub done_scope: &'static str,
    pub done_added: &'static str,
    pub done_removed: &'static str,
    pub e_short: &'static str,
    pub e_address: &'static str,
    pub e_unknown: &'static str,
    pub e_other: &'static str,
    pub e_duplicate: &'static str,
    pub e_deactivated: &'static str,
    pub e_scope: &'static str,
    pub audit: &'static str,
    pub state: &'static str,
    pub operator: &'static str,
    pub domain_admin: &'static str,
    pub emergency_password: &'static str,
    pub emergency_activate: &'static str,
    pub emergency_deactivate: &'static str,
    pub emergency_text: &'static str,
    pub status_set: &'static str,
    pub status_invited: &'static str,
    pub status_none: &'static str,
    pub source_ldap: &'static str,
    pub source_local: &'static str,
    pub resend: &'static str,
    pub reset: &'static str,
    pub done_emergency_on: &'static str,
    pub done_emergency_off: &'static str,
    pub done_resend: &'static str,
    pub done_reset: &'static str,
    pub primary_server: &'static str,
    pub host: &'static str,
    pub port: &'static str,
    pub tls_mode: &'static str,
    pub probe_interval: &'static str,
    pub probe_timeout: &'static str,
    pub fail_after: &'static str,
    pub recover_after: &'static str,
    pub probe_rcpt: &'static str,
    pub test_connection: &'static str,
    pub tested_ok: &'static str,
    pub tested_fail: &'static str,
    pub done_primary: &'static str,
    pub e_primary: &'static str,
    pub timeline: &'static str,
    pub state_normal: &'static str,
    pub state_outage: &'static str,
    pub state_recovering: &'static str,
    pub state_drill: &'static str,
    pub activate_now: &'static str,
    pub end_continuity: &'static str,
    pub start_drill: &'static str,
    pub drill_minutes: &'static str,
    pub done_state: &'static str,
    pub e_state: &'static str,
}

pub static ADMIN_EN: AdminStrings = AdminStrings {
    control_panel: "Control Panel",
    scope_selection: "Scope selection",
    choose_domain: "Select the domain to manage.",
    no_domains: "No domain is assigned to you.",
    security_settings: "Security settings",
    continuity_service: "Continuity Service",
    status_on: "The Continuity Service is activated for this domain.",
    status_off: "The Continuity Service is deactivated for this domain.",
    activate: "Activate the Continuity Service",
    deactivate: "Deactivate the Continuity Service",
    confirm_activate: "Activate the Continuity Service for this domain?",
    confirm_deactivate: "Deactivate the Continuity Service for this domain? Its users will no longer be covered during an outage; the archive is kept until it expires.",
    important: "IMPORTANT:",
    standby_text: "The Continuity Service is a standby system. To keep mail traffic flowing reliably, the Continuity Service must stay activated at all times.",
    archive_text: "For domains with the Continuity Service activated, the mail of the last three months is kept in the archive. In Email Live Tracking you can see which of these mails were delivered via the Continuity Service.",
    all_users: "All users",
    selected_users_only: "Selected users only",
    save: "Save",
    switch_warning: "If you switch from Selected users only to All users, all previously added users are removed.",
    confirm: "Confirm",
    cancel: "Cancel",
    continuity_users: "Continuity Service users",
    add: "Add",
    select_user: "Select user",
    autocomplete_hint: "To trigger the suggestions, enter at least three consecutive characters.",
    remove_user: "Remove user",
    user: "User",
    no_selected_users: "No user has been added yet.",
    applies_to_all: "The Continuity Service applies to all users of the domain.",
    done_activated: "The Continuity Service has been activated.",
    done_deactivated: "The Continuity Service has been deactivated.",
    done_scope: "The setting has been saved.",
    done_added: "The user has been added to the Continuity Service:",
    done_removed: "The user has been removed from the Continuity Service.",
    e_short: "Enter at least three characters.",
    e_address: "This is not an email address: choose one of the suggestions.",
    e_unknown: "No user of this domain has this address.",
    e_other: "This address belongs to another domain.",
    e_duplicate: "This user is already in the list.",
    e_deactivated: "Activate the Continuity Service first.",
    e_scope: "Choose Selected users only first.",
    audit: "Changes",
    state: "State",
    operator: "operator",
    domain_admin: "domain administrator",
    emergency_password: "Emergency password",
    emergency_activate: "Activate emergency password",
    emergency_deactivate: "Deactivate emergency password",
    emergency_text: "Users synchronized from the directory need an emergency password to use the Continuity Service webmail. Activating it sends each of them a single-use link (valid 7 days) through their normal mailbox.",
    status_set: "set",
    status_invited: "invited",
    status_none: "none",
    source_ldap: "directory",
    source_local: "local",
    resend: "Resend",
    reset: "Reset",
    done_emergency_on: "Emergency password activated. Invitations sent:",
    done_emergency_off: "Emergency password deactivated.",
    done_resend: "The link has been sent again.",
    done_reset: "The password has been reset and a new link sent.",
    primary_server: "Primary mail server and monitoring",
    host: "Host",
    port: "Port",
    tls_mode: "TLS",
    probe_interval: "Check every (s)",
    probe_timeout: "Timeout (s)",
    fail_after: "Outage after (failures)",
    recover_after: "Back after (successes)",
    probe_rcpt: "Probe address (default postmaster)",
    test_connection: "Test connection",
    tested_ok: "The primary server accepts mail:",
    tested_fail: "The primary server does not accept mail:",
    done_primary: "The primary server settings have been saved.",
    e_primary: "A value is not valid:",
    timeline: "Continuity timeline",
    state_normal: "normal: the primary receives the mail",
    state_outage: "outage: the Continuity Service is active",
    state_recovering: "recovering: held mail is being delivered",
    state_drill: "drill: users see the Continuity Service",
    activate_now: "Activate now (maintenance)",
    end_continuity: "End continuity",
    start_drill: "Start a drill",
    drill_minutes: "Drill length (minutes)",
    done_state: "Continuity state:",
    e_state: "Nothing to do in the current state.",
};

pub static ADMIN_FR: AdminStrings = AdminStrings {
    control_panel: "Control Panel",
    scope_selection: "Sélection de l'espace",
    choose_domain: "Sélectionnez le domaine à gérer.",
    no_domains: "Aucun domaine ne vous est attribué.",
    security_settings: "Paramètres de sécurité",
    continuity_service: "Continuity Service",
    status_on: "Le Continuity Service est activé pour ce domaine.",
    status_off: "Le Continuity Service est désactivé pour ce domaine.",
    activate: "Activer le Continuity Service",
    deactivate: "Désactiver le Continuity Service",
    confirm_activate: "Activer le Continuity Service pour ce domaine ?",
    confirm_deactivate: "Désactiver le Continuity Service pour ce domaine ? Ses utilisateurs ne seront plus protégés en cas de panne ; les archives sont conservées jusqu'à leur expiration.",
    important: "IMPORTANT :",
    standby_text: "Le Continuity Service est un système standby. Pour pouvoir maintenir de façon fiable le trafic de courriels, le Continuity Service doit être activé en permanence.",
    archive_text: "Pour les domaines dont le Continuity Service est activé, les courriels des trois derniers mois sont stockés dans les archives de courriel. Dans le module Email Live Tracking, vous pouvez savoir lesquels de ces courriels ont été distribués via le Continuity Service.",
    all_users: "Tous les utilisateurs",
    selected_users_only: "Utilisateurs sélectionnés uniquement",
    save: "Enregistrer",
    switch_warning: "Si vous passez de l'option Utilisateurs sélectionnés uniquement à l'option Tous les utilisateurs, tous les utilisateurs ajoutés précédemment sont supprimés.",
    confirm: "Confirmer",
    cancel: "Annuler",
    continuity_users: "Utilisateurs de Continuity Service",
    add: "Ajouter",
    select_user: "Sélectionner utilisateur",
    autocomplete_hint: "Pour déclencher la fonction de proposition automatique, entrez au moins trois caractères consécutifs.",
    remove_user: "Éliminer utilisateur",
    user: "Utilisateur",
    no_selected_users: "Aucun utilisateur n'a encore été ajouté.",
    applies_to_all: "Le Continuity Service s'applique à tous les utilisateurs du domaine.",
    done_activated: "Le Continuity Service a été activé.",
    done_deactivated: "Le Continuity Service a été désactivé.",
    done_scope: "Le réglage a été enregistré.",
    done_added: "L'utilisateur est ajouté et apparaît dans le tableau. Le Continuity Service est appliqué à l'utilisateur :",
    done_removed: "L'utilisateur est supprimé de la liste. Le Continuity Service n'est plus appliqué à l'utilisateur.",
    e_short: "Entrez au moins trois caractères.",
    e_address: "Ce n'est pas une adresse courriel : choisissez l'une des propositions.",
    e_unknown: "Aucun utilisateur de ce domaine n'a cette adresse.",
    e_other: "Cette adresse appartient à un autre domaine.",
    e_duplicate: "Cet utilisateur figure déjà dans la liste.",
    e_deactivated: "Activez d'abord le Continuity Service.",
    e_scope: "Cochez d'abord Utilisateurs sélectionnés uniquement.",
    audit: "Modifications",
    state: "État",
    operator: "opérateur",
    domain_admin: "administrateur de domaine",
    emergency_password: "Mot de passe d'urgence",
    emergency_activate: "Activer le mot de passe d'urgence",
    emergency_deactivate: "Désactiver le mot de passe d'urgence",
    emergency_text: "Si les utilisateurs sont synchronisés via LDAP, il est nécessaire de définir un mot de passe d'urgence afin de pouvoir accéder au système de messagerie Web du Continuity Service. L'activation envoie à chacun un lien à usage unique (valable 7 jours) dans sa boîte aux lettres habituelle.",
    status_set: "défini",
    status_invited: "invité",
    status_none: "aucun",
    source_ldap: "annuaire",
    source_local: "local",
    resend: "Renvoyer",
    reset: "Réinitialiser",
    done_emergency_on: "Mot de passe d'urgence activé. Invitations envoyées :",
    done_emergency_off: "Mot de passe d'urgence désactivé.",
    done_resend: "Le lien a été renvoyé.",
    done_reset: "Le mot de passe a été réinitialisé et un nouveau lien envoyé.",
    primary_server: "Serveur de messagerie principal et surveillance",
    host: "Hôte",
    port: "Port",
    tls_mode: "TLS",
    probe_interval: "Vérifier toutes les (s)",
    probe_timeout: "Délai (s)",
    fail_after: "Panne après (échecs)",
    recover_after: "Retour après (succès)",
    probe_rcpt: "Adresse de test (postmaster par défaut)",
    test_connection: "Tester la connexion",
    tested_ok: "Le serveur principal accepte le courrier :",
    tested_fail: "Le serveur principal n'accepte pas le courrier :",
    done_primary: "Les réglages du serveur principal ont été enregistrés.",
    e_primary: "Une valeur n'est pas valide :",
    timeline: "Historique de la continuité",
    state_normal: "normal : le serveur principal reçoit les courriels",
    state_outage: "panne : le Continuity Service est actif",
    state_recovering: "reprise : les courriels conservés sont distribués",
    state_drill: "exercice : les utilisateurs voient le Continuity Service",
    activate_now: "Activer maintenant (maintenance)",
    end_continuity: "Terminer la continuité",
    start_drill: "Lancer un exercice",
    drill_minutes: "Durée de l'exercice (minutes)",
    done_state: "État de la continuité :",
    e_state: "Rien à faire dans l'état actuel.",
};

impl Lang {
    pub fn a(self) -> &'static AdminStrings {
        match self {
            Lang::En => &ADMIN_EN,
            Lang::Fr => &ADMIN_FR,
        }
    }
}

#[cfg(test)]
mod tests {
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
