//! The OpenAPI 3.1 document. Paths come from the route registration itself
//! (utoipa-actix-web), so a route is never listed twice; [`spec`] is the one function the
//! server, the `openapi` subcommand and the drift test all call.

use actix_web::App;
use utoipa::{
    OpenApi,
    openapi::{
        self, Content, Ref, RefOr, Response,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, PROBLEM_JSON, Problem};

/// The parts of the document that are not paths: info, tags, shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Minqing API",
        description = "Backend of the 访民情·听民意·解民忧 campaign: households, visits, the issue \
ledger (台账) with deadlines and escalation, offline sync for the field app, dashboards and exports.\n\n\
Conventions: JSON in and out, `snake_case` fields, RFC 3339 UTC times, UUID ids. Every error is \
RFC 9457 `application/problem+json` with a stable `code`. Lists use cursor pagination \
(`limit`, `cursor` → `next_cursor`). Authenticate with `Authorization: Bearer <token>`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "health", description = "Liveness and readiness probes for load balancers and operators."),
        (name = "public", description = "The notice boards (村务公开栏): no sign-in, no personal data."),
    ),
)]
struct ApiDoc;

/// The complete document: every registered route, with the standard problem responses
/// added to each operation.
pub fn spec() -> openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    add_security_scheme(&mut spec);
    add_problem_responses(&mut spec);
    spec
}

/// Where the server serves the document (and the Swagger UI at `/docs/` reads it).
pub const SPEC_PATH: &str = "/api-docs/openapi.json";

/// The document as the server serves it, written once at start.
pub struct SpecJson(actix_web::web::Bytes);

impl SpecJson {
    /// Writes `spec` as compact JSON.
    pub fn new(spec: &openapi::OpenApi) -> Result<Self, serde_json::Error> {
        Ok(Self(serde_json::to_vec(spec)?.into()))
    }
}

/// `GET /api-docs/openapi.json`.
pub async fn serve(spec: actix_web::web::Data<SpecJson>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(spec.0.clone())
}

/// The document as committed in `openapi/openapi.json` (pretty, with a final newline).
pub fn spec_json() -> String {
    let mut json = spec()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    json.push('\n');
    json
}

fn add_security_scheme(spec: &mut openapi::OpenApi) {
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT or API token")
                .description(Some(
                    "An access token from `POST /api/v1/auth/login`, or an API token created by an admin.",
                ))
                .build(),
        ),
    );
}

/// Documents the errors every operation can answer, so that integrators (and schemathesis)
/// find each status the server really sends: 400 for malformed input, 401/403 where a token
/// is required, 413/415/422 where there is a body, 500 and 503 everywhere.
fn add_problem_responses(spec: &mut openapi::OpenApi) {
    for item in spec.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            bound_page_size(operation);
        }
        if let Some(post) = item.post.as_mut()
            && post
                .security
                .as_ref()
                .is_some_and(|requirements| !requirements.is_empty())
        {
            add_idempotency_key(post);
        }
        for operation in operations_mut(item) {
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|requirements| !requirements.is_empty());
            let has_body = operation.request_body.is_some();
            let has_parameters = operation
                .parameters
                .as_ref()
                .is_some_and(|parameters| !parameters.is_empty());
            let mut standard: Vec<(&str, &str)> = Vec::new();
            if has_body || has_parameters {
                standard.push(("400", "Malformed request: invalid JSON, or a path or query value of the wrong format."));
            }
            if secured {
                standard.push(("401", "Missing, expired or invalid bearer token."));
                standard.push((
                    "403",
                    "The caller's role may not take this action on a record in its scope.",
                ));
            }
            let has_query = operation.parameters.as_ref().is_some_and(|parameters| {
                parameters.iter().any(|parameter| {
                    matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == openapi::path::ParameterIn::Query)
                })
            });
            if has_query && !has_body {
                standard.push(("422", "A query value is out of range (`limit` is 1–500), or a `cursor` is not one this list handed out."));
            }
            if has_body {
                standard.push(("413", "The body is larger than this route's limit."));
                standard.push((
                    "415",
                    "The body is not of the media type this operation takes.",
                ));
                standard.push((
                    "422",
                    "The body is well-formed but invalid; `errors` names each field.",
                ));
            }
            standard.push((
                "500",
                "An internal error; logged with the request id, never detailed here.",
            ));
            standard.push((
                "503",
                "The database is unavailable or busy; retry after `Retry-After` seconds.",
            ));
            for (status, description) in standard {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(problem_response(description)));
            }
        }
    }
}

/// `limit` is 1–500 on every list (API.md): say so in the schema.
fn bound_page_size(operation: &mut openapi::path::Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.name == "limit"
        {
            parameter.schema = Some(RefOr::T(openapi::schema::Schema::Object(
                openapi::ObjectBuilder::new()
                    .schema_type(openapi::schema::Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(500))
                    .default(Some(serde_json::json!(50)))
                    .build(),
            )));
        }
    }
}

/// Every authenticated POST takes an `Idempotency-Key` (API.md).
fn add_idempotency_key(operation: &mut openapi::path::Operation) {
    let parameter = openapi::path::ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(openapi::path::ParameterIn::Header)
        .required(openapi::Required::False)
        .description(Some(
            "Optional. A retry with the same key and request gets the first response again (marked \
             `Idempotent-Replayed: true`); the same key with another request is 422; while the first \
             request runs, 409 `idempotency_in_progress`. A request that was carried out is never \
             carried out again: if the server failed after its change and before keeping its answer, \
             the retry is 409 `idempotency_answer_lost` (read the record); an answer holding a secret \
             shown once (an API token, survey codes) is not kept, and the retry is 409 \
             `idempotency_answer_withheld`. Kept 24 hours, per caller.",
        ))
        .schema(Some(openapi::ObjectBuilder::new().schema_type(openapi::schema::Type::String).min_length(Some(1)).max_length(Some(255))))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(parameter));
    for (status, description) in [
        (
            "409",
            "The Idempotency-Key is in use by a request still running, or names a request carried out whose answer is lost or withheld (`idempotency_answer_lost`, `idempotency_answer_withheld`), or the request conflicts with the record's state.",
        ),
        (
            "422",
            "The body is invalid, or the Idempotency-Key was used for a different request.",
        ),
    ] {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem_response(description)));
    }
}

/// A response whose body is a [`Problem`].
pub fn problem_response(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
    );
    response
}

fn operations_mut(
    item: &mut openapi::PathItem,
) -> impl Iterator<Item = &mut openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}
