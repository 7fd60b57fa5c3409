//! The one error type of the API and its RFC 9457 `application/problem+json` form.
//!
//! Every 4xx/5xx that leaves the server is a [`Problem`]: handler errors through
//! [`ApiError`], extractor rejections through the `*_config` error handlers below, and
//! anything else (a response some middleware produced) through [`problem_for_status`].

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    error::{JsonPayloadError, PathError, QueryPayloadError},
    http::{StatusCode, header},
    web,
};
use sea_orm::{DbErr, RuntimeErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The result type of handlers and domain functions.
pub type ApiResult<T> = Result<T, ApiError>;

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field, in the request's own naming (`snake_case`, dotted for nested fields).
    pub field: String,
    /// A stable, machine-readable reason (`required`, `too_long`, `invalid`, …).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// An RFC 9457 problem document, as sent with `Content-Type: application/problem+json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:minqing:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem; the same for every occurrence of `code`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// A stable `snake_case` code for programs.
    pub code: String,
    /// The fields that failed validation (only for `422 validation_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The record's current version (only for `412 version_mismatch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// Problem-specific data: the per-row report of a refused import, the records a sync
    /// push conflicts with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// Every way a request can fail. Each variant's doc names the status it becomes.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad path or query value).
    #[error("bad request: {detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Human detail (never echoes parser internals).
        detail: String,
    },
    /// 401: no credentials, or credentials that are not valid.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: the caller may not take this action on a record in their scope.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 403 with data: a refused record of a batch (sync push), named in `details`.
    #[error("forbidden: {detail}")]
    ForbiddenWithDetails {
        /// Human detail.
        detail: String,
        /// Which record.
        details: serde_json::Value,
    },
    /// 409 with data: records that conflict (sync push), named in `details`.
    #[error("conflict: {detail}")]
    Conflict409WithDetails {
        /// Human detail.
        detail: String,
        /// The conflicting records.
        details: serde_json::Value,
    },
    /// 404: no such record in the caller's scope (out-of-scope records are not confirmed).
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the path exists but not with this method; carries the allowed methods.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the path supports, for the `Allow` header.
        allow: Vec<String>,
    },
    /// 409: the request conflicts with the current state (duplicate, invalid transition).
    #[error("conflict: {detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human detail.
        detail: String,
    },
    /// 412: `If-Match` (or the body's `version`) names a version that is no longer current.
    #[error("precondition failed")]
    PreconditionFailed {
        /// The record's current version.
        current_version: i64,
    },
    /// 422 with data: the request was understood but refused as a whole (a CSV import with
    /// invalid rows); `details` says why, item by item.
    #[error("unprocessable: {detail}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Human detail.
        detail: String,
        /// The item-by-item report.
        details: serde_json::Value,
    },
    /// 413: the body is larger than the route's limit.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not of the media type the operation takes.
    #[error("unsupported media type")]
    UnsupportedMediaType {
        /// What the operation takes, e.g. `application/json`.
        expected: &'static str,
    },
    /// 422: the body parsed but its content is invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 429: too many attempts; carries the seconds to wait (`Retry-After`).
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until the next attempt may succeed.
        retry_after: u64,
    },
    /// 503: the database cannot be reached or has no free connection right now.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a fault of ours; logged with its cause chain, never echoed.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422 with a single field error.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }])
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::PreconditionFailed { .. } => "version_mismatch",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) | Self::ForbiddenWithDetails { .. } => "forbidden",
            Self::Conflict409WithDetails { .. } => "sync_conflict",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The problem document this error is sent as.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::BadRequest { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::Unprocessable { detail, .. }
            | Self::ForbiddenWithDetails { detail, .. }
            | Self::Conflict409WithDetails { detail, .. } => detail.clone(),
            Self::PreconditionFailed { current_version } => format!(
                "The record has changed since you read it; its current version is {current_version}. Read it again and retry."
            ),
            Self::Unauthorized(detail)
            | Self::Forbidden(detail)
            | Self::NotFound(detail)
            | Self::Unavailable(detail) => detail.clone(),
            Self::MethodNotAllowed { allow } => {
                format!("This path supports only: {}.", allow.join(", "))
            }
            Self::PayloadTooLarge { limit } => {
                format!("The request body is larger than this route's limit of {limit} bytes.")
            }
            Self::UnsupportedMediaType { expected } => {
                format!("The request body must be sent as `Content-Type: {expected}`.")
            }
            Self::Validation(errors) => {
                format!("{} field(s) are invalid; see `errors`.", errors.len())
            }
            Self::TooManyRequests { retry_after } => {
                format!("Too many attempts; try again in {retry_after} seconds.")
            }
            Self::Internal(_) => {
                "An internal error occurred; it has been logged with the request id.".to_owned()
            }
        };
        let mut problem = Problem::new(status, self.code(), detail);
        match self {
            Self::Validation(errors) => problem.errors = Some(errors.clone()),
            Self::PreconditionFailed { current_version } => {
                problem.current_version = Some(*current_version)
            }
            Self::Unprocessable { details, .. }
            | Self::ForbiddenWithDetails { details, .. }
            | Self::Conflict409WithDetails { details, .. } => {
                problem.details = Some(details.clone())
            }
            _ => {}
        }
        problem
    }
}

impl Problem {
    /// A problem of `status` with a stable `code` and a human `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:minqing:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            errors: None,
            current_version: None,
            details: None,
        }
    }

    /// The HTTP response carrying this problem.
    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .body(serde_json::to_string(&self).unwrap_or_default())
    }
}

/// The generic problem for a status no handler produced (used by the safety net).
pub fn problem_for_status(status: StatusCode) -> Problem {
    let (code, detail) = match status.as_u16() {
        400 => ("bad_request", "The request could not be understood."),
        404 => ("not_found", "There is nothing at this path."),
        408 => ("request_timeout", "The request took too long to arrive."),
        413 => ("payload_too_large", "The request body is too large."),
        415 => (
            "unsupported_media_type",
            "The request's content type is not supported.",
        ),
        503 => (
            "service_unavailable",
            "The service is temporarily unavailable.",
        ),
        500.. => ("internal_error", "An internal error occurred."),
        _ => ("http_error", "The request failed."),
    };
    Problem::new(status, code, detail)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::ForbiddenWithDetails { .. } => StatusCode::FORBIDDEN,
            Self::Conflict409WithDetails { .. } => StatusCode::CONFLICT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(source) = self {
            tracing::error!(error = %cause_chain(source.as_ref()), "internal error");
        }
        let mut response = self.problem().into_response();
        match self {
            Self::MethodNotAllowed { allow } => {
                if let Ok(value) = header::HeaderValue::from_str(&allow.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            Self::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"minqing\""),
                );
            }
            Self::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            }
            Self::TooManyRequests { retry_after } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

/// `error: cause: cause…` on one line, for the log.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<DbErr> for ApiError {
    fn from(error: DbErr) -> Self {
        if matches!(error, DbErr::RecordNotFound(_)) {
            return Self::NotFound("No such record.".to_owned());
        }
        if matches!(&error, DbErr::Custom(message) if message == crate::idempotency::TAKEN_OVER) {
            return Self::Conflict {
                code: "idempotency_in_progress",
                detail: "A retry with this Idempotency-Key took this request over; this one \
                         was not carried out."
                    .to_owned(),
            };
        }
        if let Some(SqlErr::UniqueConstraintViolation(_)) = error.sql_err() {
            return Self::Conflict {
                code: "already_exists",
                detail: "A record with the same unique values already exists.".to_owned(),
            };
        }
        // PostgreSQL's class 22, data exception: a value it cannot store or compare — a date
        // before 4713 BC, a text longer than its column (SQLSTATEs have five characters;
        // SQLite's codes are numbers). The request's value, not our fault.
        if sql_state(&error).is_some_and(|code| code.len() == 5 && code.starts_with("22")) {
            return Self::Unprocessable {
                code: "value_out_of_range",
                detail: "A value is outside what can be stored (a date too far away, a text \
                         too long)."
                    .to_owned(),
                details: serde_json::json!({}),
            };
        }
        if is_unavailable(&error) {
            tracing::warn!(error = %cause_chain(&error), "database unavailable");
            return Self::Unavailable(
                "The database is unavailable; try again in a few seconds.".to_owned(),
            );
        }
        Self::Internal(Box::new(error))
    }
}

/// True when the error says the database could not be reached (pool timeout, connection
/// refused or dropped, SQLite busy) rather than that the statement was wrong.
fn is_unavailable(error: &DbErr) -> bool {
    if let Some(code) = sql_state(error) {
        // SQLite: SQLITE_BUSY (5) / SQLITE_LOCKED (6); PostgreSQL: class 57 (operator
        // intervention, e.g. shutdown) and 08 (connection exception), and 40001/40P01
        // (serialization failure, deadlock): the transaction was rolled back and a retry
        // succeeds.
        return matches!(code.as_str(), "5" | "6" | "517" | "262" | "40001" | "40P01")
            || code.starts_with("57")
            || code.starts_with("08");
    }
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(source))
        | DbErr::Query(RuntimeErr::SqlxError(source)) => {
            use sea_orm::sqlx::Error;
            matches!(
                source.as_ref(),
                Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// The database's own code for the error of a statement (PostgreSQL's SQLSTATE, SQLite's
/// extended result code), if it gave one.
fn sql_state(error: &DbErr) -> Option<String> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(source))
        | DbErr::Query(RuntimeErr::SqlxError(source)) => match source.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
            _ => None,
        },
        _ => None,
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut fields = Vec::new();
        collect_field_errors(&errors, "", &mut fields);
        fields.sort_by(|a, b| a.field.cmp(&b.field));
        Self::Validation(fields)
    }
}

/// Nested request structs that `#[serde(flatten)]` puts in their parent on the wire
/// (`IssueFields` as `issue`): validator names them by their Rust field, the path must not.
const FLATTENED: [&str; 1] = ["issue"];

/// Every field error, a nested one named by its path (`issues[0].matter`, `days[3].name`).
fn collect_field_errors(
    errors: &validator::ValidationErrors,
    prefix: &str,
    out: &mut Vec<FieldError>,
) {
    use validator::ValidationErrorsKind;
    for (name, kind) in errors.errors() {
        let field = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                out.extend(list.iter().map(|error| FieldError {
                    field: field.clone(),
                    code: error.code.to_string(),
                    message: error.message.as_ref().map_or_else(
                        || format!("{field} is invalid ({}).", error.code),
                        ToString::to_string,
                    ),
                }));
            }
            ValidationErrorsKind::Struct(inner) if FLATTENED.contains(&name.as_ref()) => {
                collect_field_errors(inner, prefix, out);
            }
            ValidationErrorsKind::Struct(inner) => collect_field_errors(inner, &field, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect_field_errors(inner, &format!("{field}[{index}]"), out);
                }
            }
        }
    }
}

/// JSON body rejections as problems: syntax → 400, shape → 422, size → 413, type → 415.
/// The body never carries serde's message (it names Rust types and positions).
fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api_error = match &error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge { limit: *limit },
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/json",
        },
        JsonPayloadError::Deserialize(source) if source.is_data() => {
            ApiError::Validation(vec![field_error_from_serde(source)])
        }
        JsonPayloadError::Deserialize(_) => ApiError::BadRequest {
            code: "malformed_json",
            detail: "The request body is not valid JSON.".to_owned(),
        },
        _ => ApiError::BadRequest {
            code: "unreadable_body",
            detail: "The request body could not be read.".to_owned(),
        },
    };
    // Never the error's text: serde quotes the offending value, which may be a password.
    tracing::debug!(kind = json_error_kind(&error), "rejected JSON body");
    api_error.into()
}

fn json_error_kind(error: &JsonPayloadError) -> &'static str {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            "too_large"
        }
        JsonPayloadError::ContentType => "content_type",
        JsonPayloadError::Deserialize(source) if source.is_data() => "shape",
        JsonPayloadError::Deserialize(_) => "syntax",
        _ => "payload",
    }
}

/// Turns serde's data error into a field error without leaking its wording.
fn field_error_from_serde(error: &serde_json::Error) -> FieldError {
    let message = error.to_string();
    let backticked = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = backticked("missing field ") {
        return FieldError {
            field,
            code: "required".to_owned(),
            message: "This field is required.".to_owned(),
        };
    }
    if let Some(field) = backticked("unknown field ") {
        return FieldError {
            field,
            code: "unknown_field".to_owned(),
            message: "This field is not accepted here.".to_owned(),
        };
    }
    FieldError {
        field: "body".to_owned(),
        code: "invalid".to_owned(),
        message: "A value in the body has the wrong type or format.".to_owned(),
    }
}

fn path_error(_error: PathError, _req: &HttpRequest) -> actix_web::Error {
    tracing::debug!("rejected path parameter");
    ApiError::BadRequest {
        code: "invalid_path_parameter",
        detail: "A path segment has the wrong format (IDs are UUIDs).".to_owned(),
    }
    .into()
}

fn query_error(_error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    tracing::debug!("rejected query string");
    ApiError::BadRequest {
        code: "invalid_query_parameter",
        detail: "A query parameter has an unknown name or a value of the wrong format.".to_owned(),
    }
    .into()
}

/// The JSON extractor's configuration: the default body limit and problem+json rejections.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(json_error)
}

/// The path extractor's configuration.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(path_error)
}

/// The query extractor's configuration.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(query_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_names_the_field_without_serde_wording() {
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only deserialised")]
        struct Login {
            username: String,
        }
        let error = serde_json::from_str::<Login>("{}").expect_err("must fail");
        let field = field_error_from_serde(&error);
        assert_eq!(field.field, "username");
        assert_eq!(field.code, "required");
        assert!(!field.message.contains("line"));
    }

    #[test]
    fn a_pool_timeout_is_unavailable_not_internal() {
        let error = ApiError::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn internal_errors_never_echo_their_cause() {
        let error = ApiError::Internal("secret table name".into());
        assert!(!error.problem().detail.contains("secret"));
    }
}
