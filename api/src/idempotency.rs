//! `Idempotency-Key` on POST requests (IETF draft semantics, API.md): the first response to a
//! key is kept for 24 hours; the same key with the same request gets it replayed, with another
//! request `422`, and while the first is still running `409`. Keys are per caller (user or API
//! token). A 5xx answer is not kept, so the request can be retried — unless it had already
//! committed its change: the key is marked carried out inside the transaction that carries the
//! request out ([`mark_carried_out`], from `db::commit`), so a server that dies or fails between
//! that commit and the kept answer never lets a retry do it again (the retry is told
//! `409 idempotency_answer_lost`). An answer holding a secret shown once ([`OneTimeSecret`]: an
//! API token, survey codes) is not kept; its retry is told `409 idempotency_answer_withheld`.

use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header},
    middleware::Next,
    web,
};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::idempotency_key;
use futures_util::StreamExt;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};

use crate::{
    auth::{Actor, Principal},
    error::ApiError,
    startup::AppState,
};

/// The header.
pub const HEADER: &str = "idempotency-key";
/// How long a key is kept.
const KEEP_HOURS: i64 = 24;
/// How long a running request holds its key before a retry may take over (a request that
/// died without answering must not block its key for a day).
const LEASE_SECONDS: i64 = 60;
/// The states of a key.
mod states {
    /// The first request is running, nothing committed yet.
    pub const RUNNING: &str = "running";
    /// The first request committed its change; its answer is on its way.
    pub const COMMITTED: &str = "committed";
    /// The first request's answer is kept, to be replayed.
    pub const DONE: &str = "done";
    /// The first request was carried out; its answer held a one-time secret and is not kept.
    pub const WITHHELD: &str = "withheld";
    /// The first request committed its change, then failed before answering.
    pub const LOST: &str = "lost";
}
use states::{COMMITTED, DONE, LOST, RUNNING, WITHHELD};

/// A key this request holds: the caller's key, claimed (or taken over) at `claimed_at`. A
/// request whose key a retry took over after the lease no longer holds it: it cannot commit,
/// keep an answer or release the key.
#[derive(Debug, Clone)]
struct Held {
    actor_id: uuid::Uuid,
    key: String,
    claimed_at: DateTime<Utc>,
}

impl Held {
    /// The key's row, while this request still holds it.
    fn row(&self) -> Condition {
        Condition::all()
            .add(idempotency_key::Column::ActorId.eq(self.actor_id))
            .add(idempotency_key::Column::Key.eq(self.key.clone()))
            .add(idempotency_key::Column::CreatedAt.eq(self.claimed_at))
    }
}

tokio::task_local! {
    /// The key of the request running in this task.
    static HELD: Held;
}

/// What a request whose key was taken over by its retry gets from its commit (the error maps
/// to `409 idempotency_in_progress`): the retry carries the request out, this one must not.
pub(crate) const TAKEN_OVER: &str = "idempotency key taken over by a retry";

/// Marks the running request's key as carried out, in the transaction that carries it out
/// (`db::commit` calls it before every commit). Outside a keyed request it does nothing; in a
/// request whose key a retry has taken over it fails, and the transaction is not committed.
pub(crate) async fn mark_carried_out(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let Ok(held) = HELD.try_with(Clone::clone) else {
        return Ok(());
    };
    let marked = idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::State,
            sea_orm::sea_query::Expr::value(COMMITTED),
        )
        .filter(held.row())
        .filter(idempotency_key::Column::State.is_in([RUNNING, COMMITTED]))
        .exec(txn)
        .await?;
    if marked.rows_affected == 0 {
        return Err(DbErr::Custom(TAKEN_OVER.to_owned()));
    }
    Ok(())
}

/// Put in a response's extensions by a handler whose answer holds a secret shown once (an API
/// token, survey codes): the answer is not kept for replay, where anyone reading the database
/// could read the secret.
#[derive(Debug, Clone, Copy)]
pub struct OneTimeSecret;

/// The largest body the middleware reads to fingerprint (the sync push limit), except for
/// routes whose own limit is larger (see [`body_limit`]).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The body limit while fingerprinting: the route's own, so that a key never lowers it (the
/// CSV import takes 32 MiB).
fn body_limit(req: &ServiceRequest) -> usize {
    let operation = req
        .app_data::<web::Data<crate::route_table::RouteTable>>()
        .and_then(|table| table.operation(req.method().as_str(), req.path()));
    match operation {
        Some("import_households") => crate::import::MAX_IMPORT_BYTES,
        _ => MAX_BODY,
    }
}

/// The middleware.
pub async fn replay(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = req
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let principal = req.extensions().get::<Principal>().cloned();
    let (Some(key), Some(principal), true) = (key, principal, req.method() == Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if key.is_empty() || key.len() > 255 {
        return Ok(req.error_response(ApiError::BadRequest {
            code: "invalid_idempotency_key",
            detail: "Idempotency-Key must have 1 to 255 characters.".to_owned(),
        }));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let actor_id = match principal.actor {
        Actor::User { id } | Actor::ApiToken { id } => id,
    };
    // Read the body to fingerprint it, then hand it back to the handler untouched.
    let limit = body_limit(&req);
    let mut body = web::BytesMut::new();
    let mut payload = req.take_payload();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(req.error_response(ApiError::PayloadTooLarge { limit }));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let mut fingerprint = Sha256::new();
    fingerprint.update(req.method().as_str().as_bytes());
    fingerprint.update(req.uri().to_string().as_bytes());
    fingerprint.update(&body);
    let request_hash = fingerprint
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<String>();
    req.set_payload(Payload::from(body));

    let held = match claim(&state.db, actor_id, &key, &request_hash).await {
        Ok(Claim::Ours(claimed_at)) => Held {
            actor_id,
            key,
            claimed_at,
        },
        Ok(Claim::Replay(kept)) => return Ok(req.into_response(kept)),
        Err(error) => return Ok(req.error_response(error)),
    };
    let response = HELD
        .scope(held.clone(), next.call(req))
        .await?
        .map_into_boxed_body();
    let status = response.status();
    if status.is_server_error() {
        forget(&state, &held).await;
        return Ok(response);
    }
    if response.response().extensions().contains::<OneTimeSecret>() {
        keep_withheld(&state, &held, status).await;
        return Ok(response);
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    keep(&state, &held, status, content_type, etag, &bytes).await;
    Ok(ServiceResponse::new(
        request,
        head.set_body(BoxBody::new(bytes)),
    ))
}

enum Claim {
    /// The key is new (or taken over after its lease): this request runs, holding it from
    /// this time.
    Ours(DateTime<Utc>),
    /// The key was used for the same request: its response.
    Replay(actix_web::HttpResponse),
}

async fn claim(
    db: &sea_orm::DatabaseConnection,
    actor_id: uuid::Uuid,
    key: &str,
    request_hash: &str,
) -> Result<Claim, ApiError> {
    // To the microsecond, as PostgreSQL stores it: the claim is found again by this time.
    let now = Utc::now().trunc_subsecs(6);
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(now - Duration::hours(KEEP_HOURS)))
        .exec(db)
        .await?;
    let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        actor_id: Set(actor_id),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        state: Set(RUNNING.to_owned()),
        status_code: Set(None),
        content_type: Set(None),
        etag: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(db)
    .await?;
    if matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
        return Ok(Claim::Ours(now));
    }
    let kept = idempotency_key::Entity::find_by_id((actor_id, key.to_owned()))
        .one(db)
        .await?
        .ok_or_else(in_progress)?;
    if kept.request_hash != request_hash {
        return Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            detail: "This Idempotency-Key was used for a different request.".to_owned(),
            details: serde_json::json!({"key": key}),
        });
    }
    let lease_over = kept.created_at < now - Duration::seconds(LEASE_SECONDS);
    match kept.state.as_str() {
        DONE => {}
        WITHHELD => return Err(answer_withheld()),
        // Committed, and its answer given up on (a 5xx) or overdue (the server died).
        LOST => return Err(answer_lost()),
        COMMITTED if lease_over => return Err(answer_lost()),
        RUNNING if lease_over => {
            // The first request died (crash, kill, timeout) before committing anything:
            // after the lease this one takes over, once.
            let taken = idempotency_key::Entity::update_many()
                .col_expr(
                    idempotency_key::Column::CreatedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(idempotency_key::Column::ActorId.eq(actor_id))
                .filter(idempotency_key::Column::Key.eq(key))
                .filter(idempotency_key::Column::State.eq(RUNNING))
                .filter(idempotency_key::Column::CreatedAt.eq(kept.created_at))
                .exec(db)
                .await?
                .rows_affected;
            if taken == 1 {
                return Ok(Claim::Ours(now));
            }
            return Err(in_progress());
        }
        _ => return Err(in_progress()),
    }
    let status = kept
        .status_code
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = actix_web::HttpResponse::build(status);
    if let Some(content_type) = kept.content_type {
        response.insert_header((header::CONTENT_TYPE, content_type));
    }
    if let Some(etag) = kept.etag {
        response.insert_header((header::ETAG, etag));
    }
    response.insert_header(("idempotent-replayed", "true"));
    Ok(Claim::Replay(
        response.body(kept.response_body.unwrap_or_default()),
    ))
}

fn answer_withheld() -> ApiError {
    ApiError::Conflict {
        code: "idempotency_answer_withheld",
        detail: "The request with this Idempotency-Key was carried out; its answer held a secret \
                 shown only once, which is not kept. It is not carried out again."
            .to_owned(),
    }
}

fn answer_lost() -> ApiError {
    ApiError::Conflict {
        code: "idempotency_answer_lost",
        detail: "The request with this Idempotency-Key was carried out, but the server failed \
                 before its answer was kept. It is not carried out again: read the record to \
                 see the result."
            .to_owned(),
    }
}

fn in_progress() -> ApiError {
    ApiError::Conflict {
        code: "idempotency_in_progress",
        detail: "A request with this Idempotency-Key is still running; retry shortly.".to_owned(),
    }
}

async fn keep(
    state: &AppState,
    held: &Held,
    status: StatusCode,
    content_type: Option<String>,
    etag: Option<String>,
    body: &[u8],
) {
    let result = idempotency_key::Entity::update_many()
        .set(idempotency_key::ActiveModel {
            state: Set(DONE.to_owned()),
            status_code: Set(Some(i32::from(status.as_u16()))),
            content_type: Set(content_type),
            etag: Set(etag),
            response_body: Set(Some(String::from_utf8_lossy(body).into_owned())),
            ..Default::default()
        })
        .filter(held.row())
        .exec(&state.db)
        .await;
    if let Err(error) = result {
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not keep an idempotent response");
    }
}

/// After a 5xx: a key whose request committed nothing is released, so the request can be
/// retried; one whose request had committed is marked lost, so that it is not.
async fn forget(state: &AppState, held: &Held) {
    let released = idempotency_key::Entity::delete_many()
        .filter(held.row())
        .filter(idempotency_key::Column::State.eq(RUNNING))
        .exec(&state.db)
        .await;
    let result = match released {
        Ok(done) if done.rows_affected == 0 => set_state(state, held, LOST, None).await,
        other => other.map(|_| ()),
    };
    if let Err(error) = result {
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not release an idempotency key");
    }
}

/// Keeps the status of an answer that is not kept (it holds a one-time secret).
async fn keep_withheld(state: &AppState, held: &Held, status: StatusCode) {
    if let Err(error) = set_state(state, held, WITHHELD, Some(status)).await {
        tracing::warn!(error = %crate::error::cause_chain(&error), "could not keep an idempotent response");
    }
}

async fn set_state(
    state: &AppState,
    held: &Held,
    to: &str,
    status: Option<StatusCode>,
) -> Result<(), DbErr> {
    idempotency_key::Entity::update_many()
        .set(idempotency_key::ActiveModel {
            state: Set(to.to_owned()),
            status_code: Set(status.map(|status| i32::from(status.as_u16()))),
            ..Default::default()
        })
        .filter(held.row())
        .exec(&state.db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, DatabaseConnection, PaginatorTrait};

    use super::*;
    use crate::config::DatabaseSettings;

    async fn migrated_sqlite_file() -> (DatabaseConnection, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("minqing-keys-{}.db", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = crate::db::connect_and_migrate(&DatabaseSettings::new(url))
            .await
            .expect("a database");
        (db, path)
    }

    /// Commits one write (a key of another caller) as the request holding `held`.
    async fn commit_a_write_holding(db: &DatabaseConnection, held: Held) -> Result<(), DbErr> {
        HELD.scope(held, async {
            let txn = crate::db::begin_write(db).await?;
            idempotency_key::ActiveModel {
                actor_id: Set(uuid::Uuid::now_v7()),
                key: Set("the request's own write".to_owned()),
                request_hash: Set(String::new()),
                state: Set(DONE.to_owned()),
                status_code: Set(None),
                content_type: Set(None),
                etag: Set(None),
                response_body: Set(None),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await?;
            crate::db::commit(txn).await
        })
        .await
    }

    #[tokio::test]
    async fn a_request_whose_key_its_retry_took_over_cannot_commit_and_the_retry_can() {
        let (db, path) = migrated_sqlite_file().await;
        let actor_id = uuid::Uuid::now_v7();
        let first_claim = Utc::now().trunc_subsecs(6) - Duration::minutes(2);
        idempotency_key::ActiveModel {
            actor_id: Set(actor_id),
            key: Set("k".to_owned()),
            request_hash: Set("h".to_owned()),
            state: Set(RUNNING.to_owned()),
            status_code: Set(None),
            content_type: Set(None),
            etag: Set(None),
            response_body: Set(None),
            created_at: Set(first_claim),
        }
        .insert(&db)
        .await
        .expect("the first request's claim");
        // Its lease has run out: the retry takes the key over.
        let Ok(Claim::Ours(retry_claim)) = claim(&db, actor_id, "k", "h").await else {
            panic!("the retry takes the key over");
        };

        let first = commit_a_write_holding(
            &db,
            Held {
                actor_id,
                key: "k".to_owned(),
                claimed_at: first_claim,
            },
        )
        .await;
        let writes_after_the_first = idempotency_key::Entity::find().count(&db).await;
        let retry = commit_a_write_holding(
            &db,
            Held {
                actor_id,
                key: "k".to_owned(),
                claimed_at: retry_claim,
            },
        )
        .await;

        assert!(
            matches!(&first, Err(DbErr::Custom(message)) if message == TAKEN_OVER),
            "{first:?}"
        );
        assert_eq!(writes_after_the_first.expect("count"), 1, "nothing of it");
        assert!(retry.is_ok(), "{retry:?}");
        let key = idempotency_key::Entity::find_by_id((actor_id, "k".to_owned()))
            .one(&db)
            .await
            .expect("read")
            .expect("the key");
        assert_eq!(key.state, COMMITTED);
        assert_eq!(
            idempotency_key::Entity::find()
                .count(&db)
                .await
                .expect("count"),
            2
        );
        drop(db);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
