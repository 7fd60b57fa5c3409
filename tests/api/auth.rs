//! Signing in, refresh-token rotation, signing out, throttling, and forged tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{TEST_JWT_SECRET, demo_id, spawn_app};

#[tokio::test]
async fn login_returns_a_token_pair_and_the_profile_with_assignments() {
    let app = spawn_app().await;
    app.seed().await;

    let response = app.login_raw("cadre1", "demo-password").await;

    assert_eq!(response.status, 200, "{}", response.text);
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|token| token.starts_with("mqr_"))
    );
    assert_eq!(body["user"]["role"], "cadre");
    let villages: Vec<&str> = body["user"]["assignments"]
        .as_array()
        .expect("assignments")
        .iter()
        .filter_map(|assignment| assignment["village_name"].as_str())
        .collect();
    assert_eq!(villages.len(), 2);
    assert!(
        villages.contains(&"东关村") && villages.contains(&"柳树屯村"),
        "{villages:?}"
    );
    assert!(
        !response.text.contains("argon2"),
        "the password hash never leaves the server"
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.seed().await;

    let unknown = app.login_raw("nobody", "demo-password").await;
    let wrong = app.login_raw("cadre1", "wrong-password").await;

    unknown.assert_problem(401, "unauthorized");
    wrong.assert_problem(401, "unauthorized");
    assert_eq!(unknown.json()["detail"], wrong.json()["detail"]);
    assert!(wrong.header("www-authenticate").is_some());
}

#[tokio::test]
async fn the_sixth_wrong_password_in_a_row_is_throttled_with_retry_after() {
    let app = spawn_app().await;
    app.seed().await;

    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.login_raw("cadre1", "wrong-password").await);
    }
    let right_password_while_locked = app.login_raw("cadre1", "demo-password").await;

    let codes: Vec<u16> = statuses.iter().map(|response| response.status).collect();
    assert_eq!(codes, vec![401, 401, 401, 401, 401, 429, 429, 429]);
    statuses[5].assert_problem(429, "too_many_requests");
    let retry_after: u64 = statuses[5]
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    right_password_while_locked.assert_problem(429, "too_many_requests");
    assert_eq!(
        app.login_raw("cadre2", "demo-password").await.status,
        200,
        "other accounts are not locked"
    );
}

/// On SQLite every write waits for the one writer: an anonymous flood of made-up refresh
/// tokens, sign-outs and sign-ins already throttled is answered reading only, so it never
/// queues ahead of the field's pushes. Here another connection holds the writer throughout;
/// each answer comes anyway (waiting for it would end in 503). On PostgreSQL the same answers.
#[tokio::test]
async fn made_up_tokens_and_spent_sign_ins_are_answered_without_waiting_for_the_writer() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    app.seed().await;
    for _ in 0..5 {
        assert_eq!(app.login_raw("cadre2", "wrong-password").await.status, 401);
    }
    let writer = app.db.begin().await.expect("a transaction");
    writer
        .execute_unprepared("UPDATE sync_counter SET value = value")
        .await
        .expect("holds the writer");

    let refresh = app
        .post_json(
            None,
            "/api/v1/auth/refresh",
            &json!({"refresh_token": "made-up"}),
        )
        .await;
    let logout = app
        .post_json(
            None,
            "/api/v1/auth/logout",
            &json!({"refresh_token": "made-up"}),
        )
        .await;
    let spent = app.login_raw("cadre2", "wrong-password").await;
    writer.rollback().await.expect("rollback");

    refresh.assert_problem(401, "unauthorized");
    assert!(logout.status < 300, "{} {}", logout.status, logout.text);
    spent.assert_problem(429, "too_many_requests");
}

#[tokio::test]
async fn parallel_wrong_passwords_cannot_slip_past_the_limit() {
    let app = spawn_app().await;
    app.seed().await;

    let attempts = (0..12).map(|_| app.login_raw("cadre1", "wrong-password"));
    let responses = futures_util::future::join_all(attempts).await;

    let checked = responses
        .iter()
        .filter(|response| response.status == 401)
        .count();
    let throttled = responses
        .iter()
        .filter(|response| response.status == 429)
        .count();
    assert_eq!(checked + throttled, 12);
    assert!(
        checked <= 5,
        "only five attempts may reach the password check, {checked} did"
    );
}

#[tokio::test]
async fn parallel_guesses_from_one_address_stop_at_its_limit_and_sign_ins_do_not_count() {
    let app = spawn_app().await;
    app.seed().await;
    for _ in 0..3 {
        app.login("cadre1").await;
    }

    // A hundred and ten names guessed at once from this one address.
    let names: Vec<String> = (0..110).map(|n| format!("guess{n}")).collect();
    let guesses = names
        .iter()
        .map(|name| app.login_raw(name, "wrong-password"));
    let responses = futures_util::future::join_all(guesses).await;
    let after = app.login_raw("cadre2", crate::helpers::DEMO_PASSWORD).await;

    let status_count = |status: u16| {
        responses
            .iter()
            .filter(|response| response.status == status)
            .count()
    };
    assert_eq!(
        (status_count(401), status_count(429)),
        (100, 10),
        "the address's hundred failures, then refused"
    );
    after.assert_problem(429, "too_many_requests");
}

#[tokio::test]
async fn a_refresh_token_rotates_and_its_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    app.seed().await;
    let first = app.login("cadre1").await;
    let app = &app;
    let refresh = |token: &str| {
        let body = json!({"refresh_token": token});
        async move { app.post_json(None, "/api/v1/auth/refresh", &body).await }
    };

    let rotated = refresh(&first.refresh_token).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let second = rotated.json()["refresh_token"]
        .as_str()
        .expect("new refresh token")
        .to_owned();
    assert_ne!(second, first.refresh_token);
    let third = refresh(&second).await;
    assert_eq!(third.status, 200, "{}", third.text);
    let newest = third.json()["refresh_token"]
        .as_str()
        .expect("newest")
        .to_owned();

    // The first token is spent and its child already used: this is a stolen copy.
    let reused = refresh(&first.refresh_token).await;
    let descendant = refresh(&newest).await;

    reused.assert_problem(401, "unauthorized");
    descendant.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn a_phone_that_lost_the_refresh_answer_may_retry_while_the_child_is_unused() {
    let app = spawn_app().await;
    app.seed().await;
    let first = app.login("cadre1").await;
    let app = &app;
    let refresh = |token: &str| {
        let body = json!({"refresh_token": token});
        async move { app.post_json(None, "/api/v1/auth/refresh", &body).await }
    };
    let lost = refresh(&first.refresh_token).await;
    let lost_child = lost.json()["refresh_token"]
        .as_str()
        .expect("child")
        .to_owned();

    let retry = refresh(&first.refresh_token).await;
    let lost_child_later = refresh(&lost_child).await;

    assert_eq!(
        retry.status, 200,
        "a retry within the grace period: {}",
        retry.text
    );
    let retried_child = retry.json()["refresh_token"]
        .as_str()
        .expect("child")
        .to_owned();
    assert_ne!(retried_child, lost_child);
    lost_child_later.assert_problem(401, "unauthorized");
    assert_eq!(
        refresh(&retried_child).await.status,
        200,
        "the sign-in lives on"
    );
}

#[tokio::test]
async fn a_new_password_ends_every_sign_in_of_the_account() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let phone = app.login("cadre1").await;

    let reset = app
        .patch_json(
            &admin,
            &format!("/api/v1/users/{}", demo_id("user:cadre1")),
            &json!({"password": "brand-new-password"}),
        )
        .await;
    let refresh = app
        .post_json(
            None,
            "/api/v1/auth/refresh",
            &json!({"refresh_token": phone.refresh_token}),
        )
        .await;

    assert_eq!(reset.status, 200, "{}", reset.text);
    refresh.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    app.seed().await;
    let session = app.login("cadre1").await;

    let logout = app
        .post_json(
            None,
            "/api/v1/auth/logout",
            &json!({"refresh_token": session.refresh_token}),
        )
        .await;
    let refresh = app
        .post_json(
            None,
            "/api/v1/auth/refresh",
            &json!({"refresh_token": session.refresh_token}),
        )
        .await;

    assert_eq!(logout.status, 204);
    refresh.assert_problem(401, "unauthorized");
}

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": demo_id("user:admin").to_string(),
        "role": "admin",
        "scope": "*",
        "iss": "minqing",
        "aud": "minqing-api",
        "exp": now + 600,
        "nbf": now - 10,
        "iat": now - 10,
        "jti": "test",
    });
    for (key, value) in overrides.as_object().expect("object") {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn sign(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn a_well_formed_token_signed_with_the_server_secret_is_accepted() {
    let app = spawn_app().await;
    app.seed().await;

    let response = app
        .get_as(
            &sign(Algorithm::HS256, TEST_JWT_SECRET, &claims(json!({}))),
            "/api/v1/me",
        )
        .await;

    assert_eq!(
        response.status, 200,
        "the forgery tests below are meaningful only if this passes: {}",
        response.text
    );
}

#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_are_all_401_problems() {
    let app = spawn_app().await;
    app.seed().await;
    let now = chrono::Utc::now().timestamp();
    let valid = sign(Algorithm::HS256, TEST_JWT_SECRET, &claims(json!({})));
    let (header, payload, _) = {
        let mut parts = valid.split('.');
        (
            parts.next().expect("header"),
            parts.next().expect("payload"),
            parts.next().expect("signature"),
        )
    };
    // A claim the server does not cross-check with the database: only the signature can
    // catch this change.
    let tampered_payload =
        URL_SAFE_NO_PAD.encode(claims(json!({"exp": now + 86_400 * 365})).to_string());
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        payload
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"exp": now - 120})),
            ),
        ),
        (
            "not yet valid",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"nbf": now + 600})),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"aud": "someone-else"})),
            ),
        ),
        (
            "missing audience",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"aud": null})),
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"iss": "evil"})),
            ),
        ),
        (
            "missing issuer",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"iss": null})),
            ),
        ),
        (
            "missing subject",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"sub": null})),
            ),
        ),
        (
            "missing nbf",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"nbf": null})),
            ),
        ),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                "another-secret-that-is-long-enough-000000",
                &claims(json!({})),
            ),
        ),
        (
            "algorithm switched to HS384",
            sign(Algorithm::HS384, TEST_JWT_SECRET, &claims(json!({}))),
        ),
        (
            "algorithm switched to HS512",
            sign(Algorithm::HS512, TEST_JWT_SECRET, &claims(json!({}))),
        ),
        ("alg none", alg_none),
        (
            "tampered payload",
            format!(
                "{header}.{tampered_payload}.{}",
                valid.rsplit('.').next().expect("sig")
            ),
        ),
        (
            "role claim differs from the account",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"sub": demo_id("user:cadre1").to_string()})),
            ),
        ),
        (
            "unknown user",
            sign(
                Algorithm::HS256,
                TEST_JWT_SECRET,
                &claims(json!({"sub": uuid::Uuid::new_v4().to_string()})),
            ),
        ),
        ("not a token", "garbage".to_owned()),
        (
            "unknown API token",
            "mqt_0000000000000000000000000000000000000000000000000000000000000000".to_owned(),
        ),
    ];

    for (case, token) in cases {
        let response = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(response.status, 401, "{case}: {}", response.text);
        response.assert_problem(401, "unauthorized");
        assert!(response.header("www-authenticate").is_some(), "{case}");
    }
    let missing = app
        .call(reqwest::Method::GET, None, "/api/v1/me", None)
        .await;
    missing.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn a_deactivated_account_loses_access_at_once() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let cadre = app.token_for("cadre1").await;
    let before = app.get_as(&cadre, "/api/v1/me").await;

    let deactivate = app
        .patch_json(
            &admin,
            &format!("/api/v1/users/{}", demo_id("user:cadre1")),
            &json!({"active": false}),
        )
        .await;
    let after = app.get_as(&cadre, "/api/v1/me").await;

    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(deactivate.status, 200, "{}", deactivate.text);
    after.assert_problem(401, "unauthorized");
    app.login_raw("cadre1", "demo-password")
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn an_account_deactivated_behind_the_servers_back_loses_access_within_a_second() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let before = app.get_as(&cadre, "/api/v1/me").await;

    // As the command line or a second server would: straight into the database.
    entity::user::ActiveModel {
        id: Set(demo_id("user:cadre1")),
        active: Set(false),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("deactivated");
    tokio::time::sleep(
        api::auth::kept::KeptPrincipals::KEPT + std::time::Duration::from_millis(100),
    )
    .await;
    let after = app.get_as(&cadre, "/api/v1/me").await;

    assert_eq!(before.status, 200, "{}", before.text);
    after.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn stored_passwords_are_argon2id_with_owasp_parameters() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    app.seed().await;

    let users = entity::user::Entity::find()
        .all(&app.db)
        .await
        .expect("users");

    assert!(!users.is_empty());
    for user in users {
        assert!(
            user.password_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            user.username
        );
    }
}

#[tokio::test]
async fn a_sign_in_checked_against_a_password_being_reset_is_refused() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};
    let app = spawn_app().await;
    app.seed().await;
    let new_hash = api::auth::password::hash_async("another-password-1".to_owned())
        .await
        .expect("a hash");
    // An admin's password reset, committed while the sign-in with the old password is on
    // its way.
    let reset = app.db.begin().await.expect("begin");
    entity::user::Entity::update_many()
        .col_expr(entity::user::Column::PasswordHash, Expr::value(new_hash))
        .filter(entity::user::Column::Username.eq("cadre1"))
        .exec(&reset)
        .await
        .expect("the reset");

    let (signed_in, ()) = tokio::join!(
        app.login_raw("cadre1", crate::helpers::DEMO_PASSWORD),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            reset.commit().await.expect("the reset commits");
        }
    );

    signed_in.assert_problem(401, "unauthorized");
    assert_eq!(
        app.login_raw("cadre1", "another-password-1").await.status,
        200,
        "the new password works"
    );
}
