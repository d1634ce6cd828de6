//! `switchboard admin create-owner` and `admin create-api-key` through the real binary, on
//! SQLite and (when configured) PostgreSQL: the owner can sign in, the key printed on stdout
//! (and nothing else) authenticates, and both land in the audit log.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use calling::accounts::{api_keys, audit, sessions, users};
use calling::testing;

struct Env {
    dir: tempfile::TempDir,
    database_url: String,
}

fn run(env: &Env, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("DATABASE_URL", &env.database_url)
        .env("SECRET_KEY_FILE", env.dir.path().join("secret.key"))
        .env_remove("SECRET_KEY")
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run switchboard");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn operators_create_owners_and_api_keys_from_the_command_line() {
    for db in testing::every_database().await {
        let env = Env { dir: tempfile::tempdir().unwrap(), database_url: db.url.clone() };
        let create_owner = ["admin", "create-owner", "--email", "Ops@Example.com", "--workspace", "Acme"];

        let weak = run(&env, &create_owner, "short\n");
        assert!(!weak.status.success(), "a weak password is refused");
        assert!(text(&weak.stderr).contains("password"), "{}", text(&weak.stderr));
        let empty = run(&env, &create_owner, "");
        assert!(!empty.status.success());

        let made = run(&env, &create_owner, "operator-password-1\n");
        assert!(made.status.success(), "{}", text(&made.stderr));
        assert!(made.stdout.is_empty(), "create-owner prints nothing on stdout: {}", text(&made.stdout));
        let (user, _) =
            users::find_by_email(&db.db, "ops@example.com").await.unwrap().expect("the owner exists");
        let memberships = users::memberships(&db.db, &user.id).await.unwrap();
        assert_eq!(memberships.len(), 1);
        assert_eq!((memberships[0].workspace_name.as_str(), memberships[0].role.as_str()), ("Acme", "owner"));
        let origin = sessions::Origin::default();
        sessions::login(&db.db, "ops@example.com", "operator-password-1", &origin, 0).await.unwrap();
        // Setup is closed once an owner exists.
        assert!(!calling::accounts::setup_needed(&db.db).await.unwrap());
        // The new workspace starts on its trial, so it can make paid calls once funded.
        let trial = calling::billing::subscription::get(&db.db, &memberships[0].workspace_id)
            .await
            .unwrap()
            .expect("a trial subscription");
        assert_eq!(trial.plan, "trial");
        assert!(trial.allows_paid_actions(calling::clock::Clock::System.now()));

        // Again with another password: the operator's recovery path, same user, same workspace.
        let again = run(&env, &create_owner, "operator-password-2\r\n");
        assert!(again.status.success(), "{}", text(&again.stderr));
        sessions::login(&db.db, "OPS@example.com", "operator-password-2", &origin, 0).await.unwrap();
        assert_eq!(users::memberships(&db.db, &user.id).await.unwrap().len(), 1);

        let key_args =
            ["admin", "create-api-key", "--workspace", "Acme", "--name", "CRM sync", "--role", "agent"];
        let key = run(&env, &key_args, "");
        assert!(key.status.success(), "{}", text(&key.stderr));
        let stdout = text(&key.stdout);
        let printed = stdout.trim_end_matches('\n');
        assert_eq!(stdout.lines().count(), 1, "only the key: {stdout:?}");
        assert!(printed.starts_with("sb_live_") && !printed.contains(' '), "{printed}");
        assert!(!text(&key.stderr).contains(printed), "the key is not logged");
        let found = api_keys::authenticate(&db.db, printed, 0).await.unwrap().expect("the printed key works");
        assert_eq!((found.name.as_str(), found.role.as_str()), ("CRM sync", "agent"));

        let unknown = run(
            &env,
            &["admin", "create-api-key", "--workspace", "Nope", "--name", "x", "--role", "agent"],
            "",
        );
        assert!(!unknown.status.success() && unknown.stdout.is_empty());
        let bad_role = run(
            &env,
            &["admin", "create-api-key", "--workspace", "Acme", "--name", "x", "--role", "god"],
            "",
        );
        assert!(!bad_role.status.success() && bad_role.stdout.is_empty());

        let owners = audit::by_action(&db.db, "owner.created").await.unwrap();
        assert_eq!(owners.len(), 2);
        assert_eq!(
            (owners[0].actor.as_str(), owners[0].target.clone()),
            ("cli", Some(format!("user:{}", user.id)))
        );
        let keys = audit::by_action(&db.db, "api_key.created").await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].actor, "cli");
        assert_eq!(keys[0].details["name"], "CRM sync");
        assert_eq!(keys[0].workspace_id.as_deref(), Some(found.workspace_id.as_str()));
    }
}
