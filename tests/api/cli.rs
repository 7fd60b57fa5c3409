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

/// Runs `minqing admin create <username>` at a terminal (a pseudo-terminal `script` opens),
/// typing `typed` lines as the prompts ask for them, and returns whether it succeeded and all
/// the terminal showed. Waited for off the test's runtime, as [`minqing`].
async fn admin_create_at_a_terminal(
    app: &TestApp,
    username: &str,
    typed: [&str; 2],
) -> (bool, String) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let command_line = format!("{} admin create {username}", env!("CARGO_BIN_EXE_minqing"));
    let mut command = std::process::Command::new("script");
    command
        .args([
            "--quiet",
            "--return",
            "--command",
            &command_line,
            "/dev/null",
        ])
        .env("SHELL", "/bin/sh")
        .env("DATABASE_URL", app.db_url())
        .env_remove("MINQING_JWT_SECRET")
        .env("MINQING_LOG_FORMAT", "text")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let typed = typed.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("script runs");
        let shown = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = {
            let shown = Arc::clone(&shown);
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                while let Ok(read) = stdout.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                    shown.lock().expect("lock").push_str(&text);
                }
            })
        };
        let mut stdin = child.stdin.take().expect("stdin");
        // Each line is typed only once its prompt is on the screen, as a person would: the
        // terminal echoes whatever arrives before the program turns its echo off.
        for (line, prompt) in typed.iter().zip(["Password for", "again"]) {
            let asked_by = Instant::now() + Duration::from_secs(30);
            while !shown.lock().expect("lock").contains(prompt) {
                assert!(Instant::now() < asked_by, "no prompt `{prompt}`: {shown:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
            stdin
                .write_all(format!("{line}\r").as_bytes())
                .expect("typed");
            stdin.flush().expect("flushed");
        }
        let status = child.wait().expect("script ends");
        drop(stdin);
        reader.join().expect("reader");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("stderr read");
        let shown = shown.lock().expect("lock").clone();
        (status.success(), format!("{shown}{stderr}"))
    })
    .await
    .expect("joined")
}

#[tokio::test]
async fn admin_create_asks_for_the_password_twice_at_a_terminal_without_showing_it() {
    let app = spawn_app().await;
    let password = "tty-typed-horse-battery-42";

    let (created, shown) = admin_create_at_a_terminal(&app, "kongfan", [password, password]).await;
    let (mistyped, shown_mistyped) =
        admin_create_at_a_terminal(&app, "qianwei", [password, "tty-typed-horse-battery-43"]).await;

    assert!(created, "{shown}");
    assert!(shown.contains("Created admin `kongfan`"), "{shown}");
    assert!(!shown.contains(password), "the password was shown: {shown}");
    assert_eq!(app.login_raw("kongfan", password).await.status, 200);
    assert!(!mistyped, "{shown_mistyped}");
    assert!(shown_mistyped.contains("differ"), "{shown_mistyped}");
    assert!(!shown_mistyped.contains(password), "{shown_mistyped}");
    assert_eq!(app.login_raw("qianwei", password).await.status, 401);
}

#[tokio::test]
async fn admin_create_takes_the_first_line_of_a_piped_password() {
    let app = spawn_app().await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_minqing"));
    command
        .args(["admin", "create", "sunli"])
        .env("DATABASE_URL", app.db_url())
        .env_remove("MINQING_JWT_SECRET")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());

    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.spawn().expect("minqing runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"piped-horse-battery-staple\nsecond line\n")
            .expect("written");
        child.wait_with_output().expect("minqing ends")
    })
    .await
    .expect("joined");

    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        app.login_raw("sunli", "piped-horse-battery-staple")
            .await
            .status,
        200
    );
}
