//! The command line an office's IT admin runs: what it refuses, and that it says why.

use crate::helpers::{TestApp, spawn_app};

/// Runs `minqing <args>` against the test's database, without the server's signing secret
/// (cron has none), and returns whether it succeeded and all it printed. Waited for off the
/// test's runtime, where the test's server keeps running (on PostgreSQL the command seals its
/// audit row after the server's sealer).
async fn minqing(app: &TestApp, args: &[&str]) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_minqing"));
    command
        .args(args)
        .env("DATABASE_URL", app.db_url())
        .env_remove("MINQING_JWT_SECRET")
        .env("MINQING_LOG_FORMAT", "text");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("minqing runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

#[tokio::test]
async fn seed_demo_refuses_a_database_that_holds_a_real_account_and_fills_a_demo_one_twice_alike() {
    let demo = spawn_app().await;
    let real = spawn_app().await;

    let first = minqing(&demo, &["seed-demo"]).await;
    let users_after_first = demo.count("users").await;
    let again = minqing(&demo, &["seed-demo"]).await;
    let created = minqing(
        &real,
        &[
            "admin",
            "create",
            "zhangli",
            "--password",
            "correct-horse-battery-staple",
        ],
    )
    .await;
    let refused = minqing(&real, &["seed-demo"]).await;

    assert!(first.0, "{}", first.1);
    assert!(again.0, "running it twice changes nothing: {}", again.1);
    assert_eq!(demo.count("users").await, users_after_first);
    assert!(created.0, "{}", created.1);
    assert!(
        created.1.contains("Created admin `zhangli`") && created.1.contains(" in "),
        "names the database it wrote to: {}",
        created.1
    );
    assert!(!refused.0, "seeded a real deployment: {}", refused.1);
    assert!(
        refused.1.contains("zhangli") && refused.1.contains("not a demo's"),
        "says why: {}",
        refused.1
    );
    assert_eq!(
        real.count("users").await,
        1,
        "no demo account with its known password"
    );
}

#[tokio::test]
async fn a_refused_command_names_the_field_and_why() {
    let app = spawn_app().await;

    let (succeeded, printed) = minqing(
        &app,
        &[
            "admin",
            "create",
            "A",
            "--password",
            "correct-horse-battery-staple",
        ],
    )
    .await;

    assert!(!succeeded);
    assert!(printed.contains("username: "), "{printed}");
    assert!(!printed.contains("validation failed"), "{printed}");
}

#[tokio::test]
async fn audit_verify_runs_without_the_servers_signing_secret() {
    let app = spawn_app().await;

    let (succeeded, printed) = minqing(&app, &["audit", "verify"]).await;

    assert!(succeeded, "{printed}");
    assert!(printed.contains("ok"), "{printed}");
}
