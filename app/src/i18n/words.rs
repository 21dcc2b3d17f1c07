//! What the shared codes say in each language: a continuity state's
//! name, why it changed ([`crate::backend::Reason`]), why a form was
//! refused ([`crate::backend::Refusal`]), a directory run, a TLS mode.

use super::Lang;

/// A state as a timeline line names it, in `lang`.
pub fn mode_name(lang: Lang, mode: &str) -> &'static str {
    let t = lang.a();
    match mode {
        "outage" => t.mode_outage,
        "recovering" => t.mode_recovering,
        "drill" => t.mode_drill,
        _ => t.mode_normal,
    }
}

/// Why the state changed, in `lang`; the technical detail (a probe's
/// error, in the words of the server that answered) apart, for a
/// disclosure.
pub fn reason_text(lang: Lang, reason: &crate::backend::Reason) -> (String, Option<String>) {
    use crate::backend::Reason as R;
    let fr = lang == Lang::Fr;
    let s = |en: String, fr_text: String| if fr { fr_text } else { en };
    match reason {
        R::Failures { n, last } => (
            s(
                format!("{n} failures in a row"),
                format!("{n} échecs consécutifs"),
            ),
            Some(last.clone()),
        ),
        R::Successes { n } => (
            s(
                format!("{n} successful probes in a row"),
                format!("{n} tests réussis consécutifs"),
            ),
            None,
        ),
        R::ActivatedBy(by) => (
            s(format!("activated by {by}"), format!("activée par {by}")),
            None,
        ),
        R::EndedBy(by) => (
            s(format!("ended by {by}"), format!("terminée par {by}")),
            None,
        ),
        R::DrillStartedBy(by) => (
            s(
                format!("drill started by {by}"),
                format!("exercice lancé par {by}"),
            ),
            None,
        ),
        R::DrillEndedBy(by) => (
            s(
                format!("drill ended by {by}"),
                format!("exercice terminé par {by}"),
            ),
            None,
        ),
        R::HeldMailDelivered => (
            s(
                "held mail delivered".into(),
                "courriels conservés distribués".into(),
            ),
            None,
        ),
        R::DrillOver => (
            s(
                "the drill's time is over".into(),
                "fin de la durée de l'exercice".into(),
            ),
            None,
        ),
        R::Other(text) => (
            s("state changed".into(), "changement d'état".into()),
            Some(text.clone()),
        ),
    }
}

/// Why a form was refused, in the viewer's language.
pub fn refusal_text(lang: Lang, refusal: &crate::backend::Refusal) -> String {
    use crate::backend::Refusal as R;
    if lang == Lang::En {
        return refusal.to_string();
    }
    match refusal {
        R::DirectoryInterval => "l'intervalle est un nombre entier de minutes, au moins 1".into(),
        R::DirectoryGuard => "le seuil de désactivation est un pourcentage de 0 à 100".into(),
        R::DirectoryPasswordFile(f) => format!("le service ne peut pas lire {f}"),
        R::DirectoryUrl => "l'URL de l'annuaire commence par ldap:// ou ldaps://".into(),
        R::DirectoryStartTls => {
            "StartTLS s'utilise avec une URL ldap:// (ldaps:// est déjà chiffré)".into()
        }
        R::DirectoryPlaintext => "une URL ldap:// sans StartTLS enverrait le mot de passe de \
             liaison en clair : utilisez ldaps:// ou StartTLS (seul un opérateur peut autoriser \
             LDAP non chiffré)"
            .into(),
        R::DirectoryBaseDn => "le DN de base est obligatoire".into(),
        R::DirectoryFilter => {
            "le filtre est un filtre LDAP entre parenthèses, par exemple (mail=*)".into()
        }
        R::DirectoryKind => "le type est OpenLDAP ou Active Directory".into(),
        R::DirectoryAttribute => {
            "un attribut se nomme par des lettres, chiffres et tirets, par exemple mobile (ou reste vide)".into()
        }
        R::NotANetwork(n) => format!(
            "« {n} » n'est ni une adresse IP ni un réseau (par exemple 192.0.2.10 ou 192.0.2.0/24)"
        ),
        R::NetworkTooBroad(n) => {
            format!("{n} est trop large : au plus un /24 (IPv4) ou un /56 (IPv6)")
        }
        R::NetworkReserved(n) => format!(
            "{n} est un réseau local ou réservé : aucun serveur de domaine n'envoie depuis là"
        ),
        R::TooManyNetworks => "trop de réseaux".into(),
        R::DkimAlgorithm => "choisissez RSA ou Ed25519".into(),
        R::DkimKeygen => "la clé n'a pas pu être créée".into(),
        R::DkimNoneSigns => "aucune clé ne signe".into(),
        R::DkimNoSuchKey(s) => format!("aucune clé n'a le sélecteur {s}"),
        R::DkimSelector(s) => {
            format!("« {s} » n'est pas un sélecteur DKIM (lettres, chiffres, « - » et « . »)")
        }
        R::DkimSelectorTaken(s) => format!(
            "le sélecteur {s} est déjà utilisé pour ce domaine ; choisissez-en un autre \
             (un sélecteur désigne une seule clé, pour toujours)"
        ),
        R::DkimKeySigns(s) => format!(
            "{s} est la clé qui signe : choisissez-en une autre ou arrêtez la signature d'abord"
        ),
        R::NetworkTaken(n) => format!("{n} est déjà utilisé par le serveur d'un autre domaine"),
        R::Unavailable => "la base de données ne répond pas ; rien n'a été modifié".into(),
        R::NotFound => "introuvable".into(),
        R::UnknownAction => "action inconnue".into(),
        R::WebhookUrl => "le webhook est une adresse https:// avec un nom d'hôte".into(),
        R::WebhookAddress(h) => {
            format!("{h} n'est pas une adresse publique : le service n'y envoie rien")
        }
        R::HostUnresolved(h) => format!("{h} ne correspond à aucune adresse"),
    }
}

/// The refusals a page's query names (`why=`, once each), in words.
pub fn refusals_text(lang: Lang, codes: &[String]) -> String {
    let said: Vec<String> = codes
        .iter()
        .filter_map(|c| crate::backend::Refusal::parse(c))
        .map(|r| refusal_text(lang, &r))
        .collect();
    said.join(if lang == Lang::Fr { " ; " } else { "; " })
}

/// A successful directory run in words: users read, then added, updated,
/// disabled, enabled and warnings.
pub fn sync_summary(lang: Lang, seen: u64, n: [usize; 5]) -> String {
    let [added, updated, disabled, enabled, warnings] = n;
    match lang {
        Lang::Fr => format!(
            "{seen} utilisateurs lus : {added} ajoutés, {updated} mis à jour, \
             {disabled} désactivés, {enabled} réactivés, {warnings} avertissements"
        ),
        Lang::En => format!(
            "{seen} users read: {added} added, {updated} updated, {disabled} disabled, \
             {enabled} enabled, {warnings} warnings"
        ),
    }
}

/// A TLS mode of the primary server, by its stored name, in words.
pub fn tls_mode_name(lang: Lang, mode: &str) -> &'static str {
    match (lang, mode) {
        (Lang::En, "none") => "none",
        (Lang::En, "opportunistic") => "opportunistic (STARTTLS when offered)",
        (Lang::En, "required") => "required (STARTTLS)",
        (Lang::En, "implicit") => "implicit (TLS from the start, port 465)",
        (Lang::Fr, "none") => "aucun",
        (Lang::Fr, "opportunistic") => "si proposé (STARTTLS)",
        (Lang::Fr, "required") => "obligatoire (STARTTLS)",
        (Lang::Fr, "implicit") => "implicite (TLS dès la connexion, port 465)",
        _ => "?",
    }
}
