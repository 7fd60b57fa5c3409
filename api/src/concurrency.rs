//! Optimistic concurrency: a record's `version` is its strong `ETag`; a write that names a
//! stale version (in `If-Match` or in the body) is refused with 412.

use actix_web::{HttpRequest, http::header};

use crate::error::{ApiError, ApiResult};

/// The `ETag` of a version: `"7"`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// Checks `If-Match` (if sent) and the body's `version` (if sent) against `current`.
pub fn check_version(req: &HttpRequest, body_version: Option<i32>, current: i32) -> ApiResult<()> {
    let stale = || ApiError::PreconditionFailed {
        current_version: i64::from(current),
    };
    if let Some(value) = req.headers().get(header::IF_MATCH) {
        let value = value.to_str().map_err(|_| stale())?.trim();
        let matches = value == "*"
            || value
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag(current));
        if !matches {
            return Err(stale());
        }
    }
    match body_version {
        Some(version) if version != current => Err(stale()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn if_match_and_body_version_must_name_the_current_version() {
        let current = TestRequest::default()
            .insert_header((header::IF_MATCH, "\"3\""))
            .to_http_request();
        let stale = TestRequest::default()
            .insert_header((header::IF_MATCH, "\"2\""))
            .to_http_request();
        let none = TestRequest::default().to_http_request();
        assert!(check_version(&current, None, 3).is_ok());
        assert!(check_version(&stale, None, 3).is_err());
        assert!(check_version(&none, Some(2), 3).is_err());
        assert!(check_version(&none, None, 3).is_ok());
    }
}
