//! Password hashing (argon2id) and the password policy. Pure CPU work: call
//! the hashing functions from `spawn_blocking`.

use app::backend::PasswordProblem;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted (hashing cost is bounded).
pub const MAX_LENGTH: usize = 256;

/// argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password into a PHC string (salt and parameters included).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Check a password against a PHC string. The comparison inside argon2 is
/// constant-time; a malformed hash never matches.
pub fn verify(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of nothing anyone knows, checked when the account does not exist
/// or has no password, so that such a login costs the same time as a real one.
pub fn dummy_verify(password: &str) {
    use std::sync::OnceLock;
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("no account has this password").unwrap_or_default());
    let _ = verify(phc, password);
}

/// The policy for a password chosen here: at least [`MIN_LENGTH`]
/// characters, zxcvbn score 3 or more (with the user's address and name as
/// known words), and not containing the address or its local part.
pub fn check_policy(password: &str, address: &str, display_name: &str) -> Vec<PasswordProblem> {
    let mut problems = Vec::new();
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        problems.push(PasswordProblem::TooShort { min: MIN_LENGTH });
    }
    if password.len() > MAX_LENGTH {
        problems.push(PasswordProblem::TooLong { max: MAX_LENGTH });
        return problems;
    }
    let lower = password.to_lowercase();
    let local = address.split('@').next().unwrap_or_default().to_lowercase();
    if lower.contains(&address.to_lowercase()) || (local.len() >= 3 && lower.contains(&local)) {
        problems.push(PasswordProblem::ContainsAddress);
    }
    if !password.is_empty() {
        let domain = address.split('@').nth(1).unwrap_or_default();
        let inputs: Vec<&str> = [address, local.as_str(), domain]
            .into_iter()
            .chain(display_name.split_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        let entropy = zxcvbn::zxcvbn(password, &inputs);
        if u8::from(entropy.score()) < 3 {
            problems.push(PasswordProblem::TooGuessable);
        }
    } else {
        problems.push(PasswordProblem::TooGuessable);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_salted() {
        let a = hash("correct horse battery staple").expect("hash");
        let b = hash("correct horse battery staple").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify(&a, "correct horse battery staple"));
        assert!(!verify(&a, "correct horse battery stapl"));
        assert!(!verify("not a phc string", "x"));
        assert!(!verify("", ""));
    }

    #[test]
    fn policy_explains_each_problem() {
        let addr = "alice@example.test";
        assert_eq!(
            check_policy("short", addr, ""),
            vec![
                PasswordProblem::TooShort { min: 12 },
                PasswordProblem::TooGuessable
            ]
        );
        assert_eq!(
            check_policy("password1234", addr, ""),
            vec![PasswordProblem::TooGuessable]
        );
        assert!(check_policy("alice-mountain-Quokka-87", addr, "")
            .contains(&PasswordProblem::ContainsAddress));
        assert!(check_policy("ALICE@example.test!!", addr, "")
            .contains(&PasswordProblem::ContainsAddress));
        assert!(check_policy("Smith Smith Smith 1", addr, "Alice Smith")
            .contains(&PasswordProblem::TooGuessable));
        assert_eq!(
            check_policy(&"x".repeat(300), addr, ""),
            vec![PasswordProblem::TooLong { max: 256 }]
        );
        assert!(check_policy("velvet-harbor-Quokka-87", addr, "").is_empty());
    }
}
