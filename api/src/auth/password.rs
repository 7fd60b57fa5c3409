//! Password hashing with Argon2id at OWASP's recommended parameters
//! (m = 19 MiB, t = 2, p = 1). Hashing is CPU- and memory-bound: it runs on the blocking
//! pool, at most [`CONCURRENT_HASHES`] at a time, so that a flood of sign-in attempts cannot
//! take the machine's memory (each hash holds 19 MiB).

use std::{sync::LazyLock, time::Duration};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_LENGTH: usize = 128;
/// Hashes computed at once; further requests wait (up to [`HASH_WAIT`]) for a turn.
pub const CONCURRENT_HASHES: usize = 4;
/// How long a request waits for a turn before it is answered 503.
const HASH_WAIT: Duration = Duration::from_secs(5);

static HASH_PERMITS: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

fn hasher() -> Argon2<'static> {
    // The parameters are constants that `Params::new` accepts; the fallback is unreachable.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// True when `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Runs `work` on the blocking pool when a hashing permit is free.
async fn with_permit<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let _permit = tokio::time::timeout(HASH_WAIT, HASH_PERMITS.acquire())
        .await
        .map_err(|_| {
            ApiError::Unavailable(
                "The server is busy checking passwords; try again shortly.".to_owned(),
            )
        })?
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    actix_web::web::block(work)
        .await
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

/// [`hash`] off the async threads.
pub async fn hash_async(password: String) -> ApiResult<String> {
    with_permit(move || hash(&password))
        .await?
        .map_err(|error| ApiError::Internal(error.to_string().into()))
}

/// [`verify`] off the async threads.
pub async fn verify_async(password: String, phc: String) -> ApiResult<bool> {
    with_permit(move || verify(&password, &phc)).await
}

/// A real hash of a random password: verifying against it when the user does not exist
/// costs what a real check costs, so timing does not tell unknown users from wrong passwords.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let phc = hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("wrong", &phc));
        assert!(!verify("anything", "not a hash"));
    }
}
