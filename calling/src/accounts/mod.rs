//! Accounts: who may use a workspace and how they prove it.
//!
//! This module owns users and their workspace memberships, the first-run setup, roles and the
//! permission matrix, passwords (argon2id), browser sessions, invitations, password resets,
//! API keys, the emails it sends and the append-only audit log. It stores only hashes of every
//! secret it hands out.
//! Nothing here knows about HTTP: cookies, CSRF and rate limits are the server's business.

pub mod api_keys;
pub mod audit;
pub mod invitations;
pub mod mail;
pub mod password_policy;
pub mod passwords;
pub mod resets;
pub mod roles;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use roles::{Permission, Role};
pub use users::{Member, Membership, User};

use sqlx::AnyConnection;

use crate::ids::new_id;
use crate::storage::Db;
use crate::workspace::{self, Workspace};
use crate::{Error, Result};

/// What the first owner gives at setup (and the CLI's `admin create-owner`).
#[derive(Clone, Debug)]
pub struct NewOwner {
    pub email: String,
    pub display_name: Option<String>,
    pub password: String,
    /// Used only when a workspace has to be created.
    pub workspace_name: Option<String>,
}

/// Whether the install still waits for its first user (`POST /api/v1/setup` is open).
pub async fn setup_needed(db: &Db) -> Result<bool> {
    Ok(users::count(db).await? == 0)
}

/// First run: creates the owner account and makes it owner of the install's first workspace,
/// creating one when there is none, and starts the workspace's trial subscription (see
/// `billing::subscription`). Refused once any user exists.
pub async fn setup(db: &Db, owner: NewOwner, now: i64) -> Result<(User, Workspace)> {
    let (email, normalized) = users::parse_email(&owner.email)?;
    let display_name = users::parse_display_name(owner.display_name.as_deref(), &email)?;
    let workspace_name = workspace::parse_name(owner.workspace_name.as_deref().unwrap_or("My workspace"))?;
    passwords::check_policy(&owner.password)?;
    if !setup_needed(db).await? {
        return Err(already_set_up());
    }
    let hash = passwords::hash(&owner.password).await?;

    let mut tx = db.pool().begin().await?;
    // The single-row table makes a second, concurrent setup fail here rather than create a
    // second owner.
    let claimed =
        sqlx::query("INSERT INTO install_setup (id, completed_at) VALUES (1, $1) ON CONFLICT DO NOTHING")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let (users,): (i64,) =
        sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM users").fetch_one(&mut *tx).await?;
    if claimed != 1 || users != 0 {
        return Err(already_set_up());
    }
    let user = users::insert(&mut tx, &email, &normalized, &display_name, &hash, now).await?;
    let workspace =
        first_or_new_workspace(&mut tx, &workspace_name, owner.workspace_name.is_some(), now).await?;
    users::upsert_membership(&mut tx, &workspace.id, &user.id, Role::Owner, now).await?;
    crate::billing::subscription::start_trial_in(&mut tx, &workspace.id, now).await?;
    audit::record_in(
        &mut tx,
        audit::NewEntry {
            workspace_id: Some(&workspace.id),
            actor: &format!("user:{}", user.id),
            action: "install.setup",
            target: Some(&format!("user:{}", user.id)),
            details: serde_json::json!({ "email": user.email, "workspace": workspace.name }),
            ip: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((user, workspace))
}

fn already_set_up() -> Error {
    Error::Conflict {
        code: "already_set_up",
        message: "Switchboard is already set up; ask an owner for an invitation".into(),
    }
}

/// The install's first workspace (sandbox mode creates one at start-up, before anyone signs
/// up), renamed when the owner chose a name; or a new one.
async fn first_or_new_workspace(
    conn: &mut AnyConnection,
    name: &str,
    name_chosen: bool,
    now: i64,
) -> Result<Workspace> {
    let first: Option<Workspace> =
        sqlx::query_as("SELECT id, name, created_at FROM workspaces ORDER BY created_at, id LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    match first {
        Some(mut workspace) if name_chosen && workspace.name != name => {
            sqlx::query("UPDATE workspaces SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(&workspace.id)
                .execute(&mut *conn)
                .await?;
            workspace.name = name.to_owned();
            Ok(workspace)
        }
        Some(workspace) => Ok(workspace),
        None => insert_workspace(conn, name, now).await,
    }
}

async fn insert_workspace(conn: &mut AnyConnection, name: &str, now: i64) -> Result<Workspace> {
    let workspace = Workspace { id: new_id(), name: workspace::parse_name(name)?, created_at: now };
    sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&workspace.id)
        .bind(&workspace.name)
        .bind(workspace.created_at)
        .execute(conn)
        .await?;
    Ok(workspace)
}

/// The workspace an operator names on the command line: by exact name (or id). Several
/// workspaces with that name are refused rather than guessed between.
pub async fn workspace_by_name(db: &Db, name: &str) -> Result<Option<Workspace>> {
    let found: Vec<Workspace> = sqlx::query_as(
        "SELECT id, name, created_at FROM workspaces WHERE name = $1 OR id = $1 ORDER BY created_at, id",
    )
    .bind(name.trim())
    .fetch_all(db.pool())
    .await?;
    if found.len() > 1 {
        return Err(Error::validation("workspace", "several workspaces have this name; give its id instead"));
    }
    Ok(found.into_iter().next())
}

/// The operator's `admin create-owner`: the workspace named `workspace_name` (created when
/// missing, with a trial subscription) gets `owner.email` as an owner. A new user gets `owner.password`; an existing one
/// has their password replaced by it and every session ended, which doubles as the operator's
/// recovery path.
pub async fn create_owner(
    db: &Db,
    owner: NewOwner,
    workspace_name: &str,
    now: i64,
) -> Result<(User, Workspace)> {
    let (email, normalized) = users::parse_email(&owner.email)?;
    let display_name = users::parse_display_name(owner.display_name.as_deref(), &email)?;
    let workspace_name = workspace::parse_name(workspace_name)?;
    passwords::check_policy(&owner.password)?;
    let hash = passwords::hash(&owner.password).await?;
    let existing_workspace = workspace_by_name(db, &workspace_name).await?;

    let mut tx = db.pool().begin().await?;
    let workspace = match existing_workspace {
        Some(workspace) => workspace,
        None => {
            let workspace = insert_workspace(&mut tx, &workspace_name, now).await?;
            crate::billing::subscription::start_trial_in(&mut tx, &workspace.id, now).await?;
            workspace
        }
    };
    let existing: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email_normalized = $1")
        .bind(&normalized)
        .fetch_optional(&mut *tx)
        .await?;
    let user_id = match existing {
        Some((id,)) => {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(&hash)
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => users::insert(&mut tx, &email, &normalized, &display_name, &hash, now).await?.id,
    };
    users::upsert_membership(&mut tx, &workspace.id, &user_id, Role::Owner, now).await?;
    sqlx::query("INSERT INTO install_setup (id, completed_at) VALUES (1, $1) ON CONFLICT DO NOTHING")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    audit::record_in(
        &mut tx,
        audit::NewEntry {
            workspace_id: Some(&workspace.id),
            actor: "cli",
            action: "owner.created",
            target: Some(&format!("user:{user_id}")),
            details: serde_json::json!({ "email": email, "workspace": workspace.name }),
            ip: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    // A replaced password signs out whoever knew the old one.
    sessions::delete_all_for_user(db, &user_id, None).await?;
    Ok((users::get(db, &user_id).await?, workspace))
}

/// A workspace by id.
pub async fn workspace(db: &Db, id: &str) -> Result<Workspace> {
    sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound { what: "workspace" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn owner(email: &str) -> NewOwner {
        NewOwner {
            email: email.into(),
            display_name: None,
            password: "race-password-123".into(),
            workspace_name: None,
        }
    }

    #[tokio::test]
    async fn of_two_concurrent_setups_exactly_one_wins() {
        for test_db in testing::every_database().await {
            let db = &test_db.db;
            let (a, b) =
                tokio::join!(setup(db, owner("a@example.com"), 1), setup(db, owner("b@example.com"), 1));
            let codes: Vec<&str> =
                [&a, &b].iter().map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok")).collect();
            assert!(codes.contains(&"ok") && codes.contains(&"already_set_up"), "{codes:?}");
            assert_eq!(users::count(db).await.unwrap(), 1);
            let workspaces: Vec<(String,)> =
                sqlx::query_as("SELECT id FROM workspaces").fetch_all(db.pool()).await.unwrap();
            assert_eq!(workspaces.len(), 1);
        }
    }

    #[tokio::test]
    async fn setup_adopts_the_workspace_sandbox_mode_made_and_gives_it_the_chosen_name() {
        let test_db = testing::sqlite().await;
        let db = &test_db.db;
        let sandbox = workspace::create(db, "My workspace", 1).await.unwrap();
        let chosen = NewOwner { workspace_name: Some("Acme Support".into()), ..owner("owner@example.com") };
        let (_, adopted) = setup(db, chosen, 2).await.unwrap();
        assert_eq!(adopted.id, sandbox.id);
        assert_eq!(adopted.name, "Acme Support");
        assert_eq!(workspace(db, &sandbox.id).await.unwrap().name, "Acme Support");

        let other = testing::sqlite().await;
        let sandbox = workspace::create(&other.db, "My workspace", 1).await.unwrap();
        let (_, kept) = setup(&other.db, owner("owner@example.com"), 2).await.unwrap();
        assert_eq!((kept.id, kept.name), (sandbox.id, "My workspace".to_owned()), "no name given: unchanged");
    }

    #[tokio::test]
    async fn every_workspace_given_an_owner_starts_its_trial() {
        use crate::billing::subscription::{self, SubscriptionStatus, TRIAL_DAYS};
        const DAY: i64 = 24 * 60 * 60 * 1000;
        for test_db in testing::every_database().await {
            let db = &test_db.db;
            // Setup, adopting the workspace sandbox mode made without a subscription.
            let sandbox = workspace::create(db, "My workspace", 1).await.unwrap();
            assert_eq!(subscription::get(db, &sandbox.id).await.unwrap(), None);
            let (_, adopted) = setup(db, owner("owner@example.com"), 1000).await.unwrap();
            let trial = subscription::get(db, &adopted.id).await.unwrap().expect("a trial");
            assert_eq!((trial.plan.as_str(), trial.status), ("trial", SubscriptionStatus::Active));
            assert_eq!(trial.current_period_end, 1000 + TRIAL_DAYS * DAY);
            assert!(trial.allows_paid_actions(1001));

            // `admin create-owner` creating a workspace, then naming it again later: the
            // second run leaves the subscription (here: changed by an owner) alone.
            let (_, created) = create_owner(db, owner("ops@example.com"), "Second Co", 5000).await.unwrap();
            let trial = subscription::get(db, &created.id).await.unwrap().expect("a trial");
            assert_eq!(trial.current_period_end, 5000 + TRIAL_DAYS * DAY);
            subscription::set(db, &created.id, "usage", SubscriptionStatus::Expired, 6000, 6000)
                .await
                .unwrap();
            create_owner(db, owner("ops2@example.com"), "Second Co", 7000).await.unwrap();
            let kept = subscription::get(db, &created.id).await.unwrap().unwrap();
            assert_eq!((kept.plan.as_str(), kept.status), ("usage", SubscriptionStatus::Expired));
        }
    }

    #[tokio::test]
    async fn an_invitation_is_accepted_once_even_when_raced() {
        for test_db in testing::every_database().await {
            let db = &test_db.db;
            let (_, workspace) = setup(db, owner("owner@example.com"), 1).await.unwrap();
            let (token, _) =
                invitations::create(db, &workspace.id, "new@example.com", Role::Agent, "test", 2)
                    .await
                    .unwrap();
            let accept = || {
                let acceptance = invitations::Acceptance {
                    token: token.clone(),
                    display_name: None,
                    password: "new-member-password".into(),
                };
                invitations::accept(db, acceptance, None, 3)
            };
            let (a, b) = tokio::join!(accept(), accept());
            assert_eq!([&a, &b].iter().filter(|r| r.is_ok()).count(), 1, "{a:?} {b:?}");
            assert_eq!(users::members(db, &workspace.id).await.unwrap().len(), 2);
        }
    }

    #[tokio::test]
    async fn audit_entries_read_back_newest_first() {
        let test_db = testing::sqlite().await;
        let db = &test_db.db;
        let (_, workspace) = setup(db, owner("owner@example.com"), 1).await.unwrap();
        api_keys::create(db, &workspace.id, "k", Role::Viewer, "test", 2).await.unwrap();
        let entry = audit::NewEntry {
            workspace_id: Some(&workspace.id),
            actor: "cli",
            action: "api_key.created",
            target: None,
            details: serde_json::json!({ "name": "k" }),
            ip: Some("127.0.0.1"),
        };
        audit::record(db, entry, 3).await.unwrap();
        let entries = audit::list(db, &workspace.id, 10).await.unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["api_key.created", "install.setup"], "newest first");
        assert_eq!(entries[0].details["name"], "k");
        assert_eq!(entries[0].ip.as_deref(), Some("127.0.0.1"));
    }
}
