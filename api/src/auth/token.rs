//! Access tokens (JWT, HS256 pinned) and opaque secrets (refresh and API tokens), which are
//! stored only as SHA-256 hashes.

use chrono::{DateTime, Utc};
use entity::user::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Lifetime of an access token.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// Lifetime of a refresh token (a field phone may stay offline for weeks).
pub const REFRESH_TOKEN_DAYS: i64 = 30;
/// Issuer of our access tokens.
pub const ISSUER: &str = "minqing";
/// Audience of our access tokens.
pub const AUDIENCE: &str = "minqing-api";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "mqr_";
/// Prefix of API tokens (lets secret scanners recognise leaked ones).
pub const API_TOKEN_PREFIX: &str = "mqt_";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's role when the token was issued.
    pub role: Role,
    /// The org unit (or `department:<id>`) the user's scope reaches, `*` for everything.
    pub scope: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Not before.
    pub nbf: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
}

/// The signing and verifying keys, and the pinned validation rules.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(…)")
    }
}

impl TokenKeys {
    /// Keys from the configured secret.
    pub fn new(secret: &str) -> Self {
        // Only HS256 is accepted: `none`, other HMAC sizes and asymmetric algorithms fail.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        // Required explicitly: an audience check alone lets a token without `aud` through.
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Issues an access token for a user.
    pub fn issue(
        &self,
        user_id: Uuid,
        role: Role,
        scope: String,
        now: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            scope,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp: now.timestamp() + ACCESS_TOKEN_SECONDS,
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::now_v7().to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies signature, algorithm, issuer, audience and times.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}

/// A fresh opaque secret with `prefix`: 256 random bits in hex.
pub fn new_secret(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{prefix}{}", hex(&bytes)))
}

/// SHA-256 of a secret, hex: what the database stores. The secrets carry 256 random bits,
/// so a fast hash is enough (no password stretching needed).
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_verifies_and_a_tampered_one_does_not() {
        let keys = TokenKeys::new("a-secret-of-at-least-thirty-two-characters");
        let token = keys
            .issue(Uuid::now_v7(), Role::Cadre, "*".to_owned(), Utc::now())
            .expect("issue");
        assert_eq!(keys.verify(&token).expect("verify").role, Role::Cadre);
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(keys.verify(&tampered).is_err());
    }

    #[test]
    fn secrets_are_prefixed_and_hashes_are_stable() {
        let secret = new_secret(API_TOKEN_PREFIX).expect("random");
        assert!(secret.starts_with("mqt_") && secret.len() == 4 + 64);
        assert_eq!(secret_hash("abc"), secret_hash("abc"));
        assert_ne!(secret_hash("abc"), secret_hash("abd"));
    }
}
