//! Invitation and password reset emails over real SMTP: a tiny SMTP server in the test (EHLO,
//! AUTH, MAIL, RCPT, DATA, QUIT) receives what the server sends, and the links in the emails
//! are followed to the end — an invitation accepted, a password reset and used. A mail server
//! that is down or refuses the recipient leaves a clear answer and nothing half done.

use std::sync::{Arc, Mutex};

use calling::Services;
use calling::accounts::mail::Mailer;
use calling::clock::Clock;
use calling::testing;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::{self, TestServer, eventually};

const OWNER_EMAIL: &str = "owner@acme.example";
const OWNER_PASSWORD: &str = "owner-password-long";

/// One message as the SMTP server received it.
#[derive(Clone, Debug)]
struct Received {
    auth: Option<String>,
    from: String,
    to: Vec<String>,
    data: String,
}

impl Received {
    /// The body with quoted-printable soft breaks and escapes undone (lettre encodes long lines).
    fn text(&self) -> String {
        let joined = self.data.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The first link in the body that contains `path`.
    fn link(&self, path: &str) -> String {
        let text = self.text();
        text.split_whitespace()
            .find(|word| word.contains(path))
            .unwrap_or_else(|| panic!("no {path} link in {text}"))
            .to_owned()
    }
}

/// An SMTP server on a loopback port speaking just enough SMTP for lettre.
struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// `refuse_recipients`: answer every RCPT with 550, as for an unknown mailbox.
    async fn start(refuse_recipients: bool) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, store, refuse_recipients).await;
                });
            }
        });
        SmtpSink { port, received, task }
    }

    fn url(&self) -> String {
        format!("smtp://switchboard:s3cret@127.0.0.1:{}", self.port)
    }

    async fn message_to(&self, to: &str) -> Received {
        eventually(10, &format!("an email to {to}"), || async {
            let received = self.received.lock().unwrap();
            received.iter().find(|message| message.to.iter().any(|rcpt| rcpt.contains(to))).cloned()
        })
        .await
    }
}

async fn converse(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Received>>>,
    refuse_recipients: bool,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut current = Received { auth: None, from: String::new(), to: Vec::new(), data: String::new() };
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            current.auth = line.split_whitespace().nth(2).map(str::to_owned);
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            current.from = line[10..].trim().to_owned();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if refuse_recipients {
                b"550 5.1.1 No such mailbox here\r\n"
            } else {
                current.to.push(line[8..].trim().to_owned());
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            while let Some(data) = lines.next_line().await? {
                if data == "." {
                    break;
                }
                current.data.push_str(data.strip_prefix('.').unwrap_or(&data));
                current.data.push_str("\r\n");
            }
            let next = Received {
                auth: current.auth.clone(),
                from: String::new(),
                to: Vec::new(),
                data: String::new(),
            };
            store.lock().unwrap().push(std::mem::replace(&mut current, next));
            b"250 OK: queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// A server whose mailer sends through `smtp_url`, links pointing at the server itself.
async fn server_mailing_to(smtp_url: &str) -> (TestServer, testing::TestDb) {
    let db = testing::sqlite().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let mailer: Mailer = server::mail::mailer(
        Some(smtp_url),
        Some("Switchboard <switchboard@acme.example>"),
        Some(&public_url),
    )
    .unwrap();
    let services = Services { mailer, ..testing::services(&db.db, Clock::System) };
    (support::spawn_server_on(listener, services).await, db)
}

/// A browser-like client: JSON to the REST API with the page's Origin, and a session cookie
/// once signed in.
struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Client {
    fn new(server: &TestServer) -> Client {
        Client { http: reqwest::Client::new(), base: server.url.clone(), cookie: None }
    }

    async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> (StatusCode, Value, String) {
        let mut request =
            self.http.post(format!("{}{path}", self.base)).header("Origin", &self.base).json(&body);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", format!("{}={cookie}", server::auth::SESSION_COOKIE));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let set_cookie =
            reply.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), set_cookie)
    }

    async fn sign_in(server: &TestServer, path: &str, body: Value) -> Client {
        let mut client = Client::new(server);
        let (status, reply, set_cookie) = client.post(path, body, &[]).await;
        assert!(status.is_success(), "{path}: {status} {reply}");
        let token = set_cookie.strip_prefix("sb_session=").and_then(|rest| rest.split(';').next()).unwrap();
        client.cookie = Some(token.to_owned());
        client
    }
}

async fn set_up_owner(server: &TestServer) -> Client {
    let owner = json!({
        "email": OWNER_EMAIL,
        "password": OWNER_PASSWORD,
        "display_name": "Olivia Owner",
        "workspace_name": "Acme Support",
    });
    Client::sign_in(server, "/api/v1/setup", owner).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_and_reset_emails_arrive_by_smtp_and_their_links_work() {
    let sink = SmtpSink::start(false).await;
    let (server, _db) = server_mailing_to(&sink.url()).await;
    let owner = set_up_owner(&server).await;

    // An invitation from the REST API is emailed, with the link that accepts it.
    let (status, reply, _) =
        owner.post("/api/v1/invitations", json!({ "email": "ann@acme.example", "role": "agent" }), &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["email"], json!({ "status": "sent" }));
    let email = sink.message_to("ann@acme.example").await;
    assert!(email.from.contains("switchboard@acme.example"), "{email:?}");
    assert!(email.auth.is_some(), "the SMTP_URL's credentials are used");
    let text = email.text();
    assert!(text.contains("Subject: Olivia Owner invited you to Acme Support on Switchboard"), "{text}");
    assert!(text.contains("as an agent"), "{text}");
    let link = email.link("/accept-invitation?token=");
    assert_eq!(link, reply["accept_url"].as_str().unwrap(), "the inviter sees the emailed link");
    assert!(link.starts_with(&server.url), "{link}");
    let token = link.split("token=").nth(1).unwrap();
    let accept = json!({ "token": token, "password": "ann-password-long", "display_name": "Ann" });
    Client::sign_in(&server, "/api/v1/invitations/accept", accept).await;

    // The panel's invitation goes out the same way.
    let fields = [("email", "bob@acme.example"), ("role", "viewer")];
    let reply = owner
        .http
        .post(format!("{}{}", server.url, app::pages::admin::server_fns::InviteMember::PATH))
        .header("Origin", &server.url)
        .header("Accept", "application/json")
        .header("Cookie", format!("{}={}", server::auth::SESSION_COOKIE, owner.cookie.as_deref().unwrap()))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let reply: Value = reply.json().await.unwrap();
    assert_eq!(reply["Done"]["emailed"], json!({ "Ok": null }), "{reply}");
    let page_link = sink.message_to("bob@acme.example").await.link("/invite?token=");
    assert_eq!(page_link, reply["Done"]["link"].as_str().unwrap());

    // A reset link is mailed to the account, pointing at PUBLIC_URL whatever host the request
    // named; it works once.
    let anonymous = Client::new(&server);
    let forged = [("X-Forwarded-Host", "evil.example")];
    let (status, reply, _) =
        anonymous.post("/api/v1/password/reset", json!({ "email": "ANN@acme.example" }), &forged).await;
    assert_eq!((status, reply), (StatusCode::ACCEPTED, json!({ "accepted": true })));
    let reset = eventually(10, "the reset email", || async {
        let received = sink.received.lock().unwrap().clone();
        received.into_iter().find(|m| m.text().contains("/reset-password?token="))
    })
    .await;
    let text = reset.text();
    assert!(text.contains("Subject: Reset your Switchboard password"), "{text}");
    let link = reset.link("/reset-password?token=");
    assert!(link.starts_with(&format!("{}/reset-password", server.url)), "{link}");
    assert!(!text.contains("evil.example"), "{text}");
    let token = link.split("token=").nth(1).unwrap();
    let confirm = json!({ "token": token, "new_password": "ann-new-password-1" });
    let (status, reply, _) = anonymous.post("/api/v1/password/reset/confirm", confirm.clone(), &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    Client::sign_in(
        &server,
        "/api/v1/login",
        json!({ "email": "ann@acme.example", "password": "ann-new-password-1" }),
    )
    .await;
    let (status, reply, _) = anonymous.post("/api/v1/password/reset/confirm", confirm, &[]).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));

    // An unknown email gets the same answer and no email.
    let before = sink.received.lock().unwrap().len();
    let (status, reply, _) =
        anonymous.post("/api/v1/password/reset", json!({ "email": "nobody@acme.example" }), &[]).await;
    assert_eq!((status, reply), (StatusCode::ACCEPTED, json!({ "accepted": true })));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.received.lock().unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mail_server_leaves_the_invitation_and_says_why() {
    // A port nobody listens on, and a server that refuses every recipient.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let refusing = SmtpSink::start(true).await;
    for (smtp_url, says) in
        [(format!("smtp://127.0.0.1:{closed}"), "127.0.0.1"), (refusing.url(), "No such mailbox")]
    {
        let (server, _db) = server_mailing_to(&smtp_url).await;
        let owner = set_up_owner(&server).await;
        let (status, reply, _) = owner
            .post("/api/v1/invitations", json!({ "email": "ann@acme.example", "role": "agent" }), &[])
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["email"]["status"], "failed", "{reply}");
        let message = reply["email"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
        // The invitation stands and its link works when passed on by hand.
        let token = reply["token"].as_str().unwrap();
        let accept = json!({ "token": token, "password": "ann-password-long" });
        Client::sign_in(&server, "/api/v1/invitations/accept", accept).await;
        // A reset answers as always; the failure is the operator's to read in the log.
        let (status, reply, _) =
            Client::new(&server).post("/api/v1/password/reset", json!({ "email": OWNER_EMAIL }), &[]).await;
        assert_eq!((status, reply), (StatusCode::ACCEPTED, json!({ "accepted": true })));
    }
}
