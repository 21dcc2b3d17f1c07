//! The settings every node sharing one database must agree on, and their
//! fingerprint: what one node decides, another must decide alike (how long
//! mail is retried, what a session lasts, what a user may send…). Each
//! node publishes the fingerprint with its heartbeat, and a node that sees
//! another alive with a different one says so (see `cluster.rs`).
//! Per-node settings (addresses to listen on, certificates, data
//! directory, the node's id) are left out.

use std::fmt::Write as _;

use super::Config;

impl Config {
    /// The shared settings, one `name = value` per line.
    pub fn shared_settings(&self) -> String {
        let mut s = String::new();
        let q = &self.queue;
        let w = &self.web;
        let m = &self.smtp;
        let o = &self.outbound;
        let _ = writeln!(s, "queue.retry_intervals = {:?}", q.retry_intervals);
        let _ = writeln!(s, "queue.max_age = {:?}", q.max_age);
        let _ = writeln!(s, "queue.recovery_rate = {}", q.recovery_rate);
        let _ = writeln!(s, "web.public_url = {}", w.public_url);
        let _ = writeln!(s, "web.session_idle = {:?}", w.session_idle);
        let _ = writeln!(s, "web.session_lifetime = {:?}", w.session_lifetime);
        let _ = writeln!(s, "web.password_link_ttl = {:?}", w.password_link_ttl);
        let _ = writeln!(s, "web.copy_sent_to_primary = {}", w.copy_sent_to_primary);
        let _ = writeln!(
            s,
            "web.login_failures_per_account = {}",
            w.login_failures_per_account
        );
        let _ = writeln!(s, "web.login_failures_per_ip = {}", w.login_failures_per_ip);
        let _ = writeln!(s, "web.login_window = {:?}", w.login_window);
        let _ = writeln!(s, "web.max_drafts = {}", w.max_drafts);
        let _ = writeln!(s, "web.draft_files_quota = {}", w.draft_files_quota);
        let _ = writeln!(s, "web.max_sends_per_hour = {}", w.max_sends_per_hour);
        let _ = writeln!(s, "web.admins_second_factor = {}", w.admins_second_factor);
        let _ = writeln!(s, "smtp.max_message_size = {}", m.max_message_size);
        let _ = writeln!(s, "smtp.max_recipients = {}", m.max_recipients);
        let _ = writeln!(s, "smtp.bare_newlines = {:?}", m.bare_newlines);
        let _ = writeln!(
            s,
            "submission.relay_max_per_hour = {}",
            self.submission.relay_max_per_hour
        );
        let _ = writeln!(s, "outbound.smarthost = {:?}", o.smarthost);
        let _ = writeln!(s, "outbound.direct = {}", o.direct);
        let n = &self.notify;
        let _ = writeln!(s, "notify.quiet_period = {:?}", n.quiet_period);
        let _ = writeln!(
            s,
            "notify.sms = {:?}",
            n.sms
                .as_ref()
                .map(|g| (&g.url, g.content_type, &g.body, g.cap_per_domain))
        );
        s
    }

    /// A short fingerprint of [`Config::shared_settings`].
    pub fn shared_fingerprint(&self) -> String {
        let d = ring::digest::digest(&ring::digest::SHA256, self.shared_settings().as_bytes());
        d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(env: &[(&str, &str)]) -> Config {
        Config::load(
            None,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .expect("config")
    }

    #[test]
    fn a_shared_setting_changes_the_fingerprint_a_node_setting_does_not() {
        let base = load(&[]).shared_fingerprint();
        assert_eq!(base.len(), 12);
        let other_listen = load(&[
            ("CONTINUITY_SMTP_LISTEN", "127.0.0.1:2599"),
            ("CONTINUITY_SERVER_NODE_ID", "b"),
        ]);
        assert_eq!(other_listen.shared_fingerprint(), base);
        let other_retries = load(&[("CONTINUITY_QUEUE_MAX_AGE", "2d")]);
        assert_ne!(other_retries.shared_fingerprint(), base);
    }
}
