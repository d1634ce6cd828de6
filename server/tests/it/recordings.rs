//! Call recordings over the REST API and the CLI: an MP3 or WAV (by content, not by name) up
//! to 25 MB is attached to a call, served back byte for byte for the page's player and the
//! download, replaced by a second upload, shown on the call's detail and audited; anything else
//! is a 400 listing the limits, with nothing stored. On SQLite and PostgreSQL.

use std::process::Command;

use calling::accounts::{Role, audit};
use calling::testing;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use simulator::InboundCall;

use crate::support::{Caller, Sandbox, eventually, multipart, wav};

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

async fn missed_call(sandbox: &Sandbox, caller: &Caller) -> String {
    let wa_call_id = sandbox
        .sim
        .sim
        .place_inbound_call(InboundCall {
            to: sandbox.business.phone_number_id.clone(),
            from: "+447700900401".into(),
            name: Some("Recorded Caller".into()),
            cta_payload: None,
            deeplink_payload: None,
        })
        .unwrap();
    sandbox.sim.sim.hangup(&wa_call_id).unwrap();
    eventually(10, "the missed call", || async {
        let (_, page) = caller.rest(Method::GET, "/app/calling/calls?status=missed", None).await;
        page["calls"][0]["id"].as_str().map(str::to_owned)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_attached_played_replaced_and_refused_by_content() {
    let mut sandboxes = vec![Sandbox::start(|_| {}).await];
    if let Some(db) = testing::postgres().await {
        let services = testing::services(&db.db, calling::clock::Clock::System);
        sandboxes.push(Sandbox::start_with(services, Some(db), |_| {}).await);
    }
    for sandbox in sandboxes {
        let workspace = sandbox.workspace.id.clone();
        let agent = Caller::key(&sandbox, &workspace, Role::Agent).await;
        let viewer = Caller::key(&sandbox, &workspace, Role::Viewer).await;
        let call = missed_call(&sandbox, &viewer).await;
        let path = format!("/api/v1/app/calling/calls/{call}/recording");

        // Nothing yet.
        let (status, _) = viewer.raw(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Refused by what the bytes are, with the limits; nothing stored.
        let refusals: Vec<(&str, Vec<u8>)> = vec![
            ("notes.mp3", b"these are meeting notes, not audio".to_vec()),
            ("empty.wav", Vec::new()),
            ("clip.ogg", b"OggS\x00\x02\x00\x00\x00\x00".to_vec()),
            ("huge.wav", {
                let mut huge = wav(10);
                huge.resize(calling::recordings::MAX_BYTES + 1, 0);
                huge
            }),
        ];
        for (name, bytes) in refusals {
            let (status, body) = agent.upload(&path, "file", name, &bytes).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("unsupported_recording")),
                "{name}: {body}"
            );
            assert_eq!(body["error"]["details"]["max_bytes"], calling::recordings::MAX_BYTES, "{name}");
            assert!(body["error"]["message"].as_str().unwrap().contains("MP3 or WAV"), "{name}: {body}");
        }
        let (status, body) = agent
            .rest(Method::POST, &format!("/app/calling/calls/{call}/recording"), Some(Value::Null))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unsupported_recording")),
            "{body}"
        );
        let (content_type, no_file) = multipart("notes", "", b"");
        let no_file = String::from_utf8(no_file).unwrap().replace("; filename=\"\"", "").into_bytes();
        let (status, _) = agent.post_bytes(&path, &content_type, no_file).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(viewer.raw(Method::GET, &path, None).await.0, StatusCode::NOT_FOUND, "nothing was stored");

        // Viewers play recordings but do not attach them; a call that is not there is 404.
        let audio = wav(4_000);
        assert_eq!(viewer.upload(&path, "file", "call.wav", &audio).await.0, StatusCode::FORBIDDEN);
        let missing = "/api/v1/app/calling/calls/0190a0a0-0000-7000-8000-000000000000/recording";
        assert_eq!(agent.upload(missing, "file", "call.wav", &audio).await.0, StatusCode::NOT_FOUND);

        // A WAV named .mp3 is taken as the WAV it is.
        let (status, recording) = agent.upload(&path, "file", "../pbx/Call 42.mp3", &audio).await;
        assert_eq!(status, StatusCode::CREATED, "{recording}");
        assert_eq!(
            (
                recording["format"].as_str(),
                recording["content_type"].as_str(),
                recording["file_name"].as_str()
            ),
            (Some("wav"), Some("audio/wav"), Some("Call 42.mp3"))
        );
        assert_eq!(recording["byte_size"], audio.len());
        let served = reqwest::Client::new()
            .get(format!("{}{path}", sandbox.server.url))
            .header("Authorization", viewer.authorization())
            .send()
            .await
            .unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "audio/wav");
        assert!(served.headers()["content-disposition"].to_str().unwrap().starts_with("inline"));
        assert_eq!(served.bytes().await.unwrap().to_vec(), audio, "served byte for byte");
        let (_, detail) = viewer.rest(Method::GET, &format!("/app/calling/calls/{call}"), None).await;
        assert_eq!(
            (detail["recording"]["format"].as_str(), detail["recording"]["byte_size"].as_u64()),
            (Some("wav"), Some(audio.len() as u64))
        );

        // A second upload replaces the first: an MP3 (ID3 tag, then an MPEG frame).
        let mut mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
        mp3.extend([0xFF, 0xFB, 0x90, 0x64]);
        mp3.extend([0u8; 413]);
        let (status, replaced) = agent.upload(&path, "file", "take2.bin", &mp3).await;
        assert_eq!((status, replaced["format"].as_str()), (StatusCode::CREATED, Some("mp3")));
        let (_, detail) = viewer.rest(Method::GET, &format!("/app/calling/calls/{call}"), None).await;
        assert_eq!(detail["recording"]["format"], "mp3");
        let downloaded = reqwest::Client::new()
            .get(format!("{}{path}?download=1", sandbox.server.url))
            .header("Authorization", viewer.authorization())
            .send()
            .await
            .unwrap();
        assert_eq!(downloaded.headers()["content-disposition"], "attachment; filename=\"take2.bin\"");
        assert_eq!(downloaded.bytes().await.unwrap().to_vec(), mp3);

        let entries = audit::by_action(&sandbox.services().db, "recording.uploaded").await.unwrap();
        assert_eq!(entries.len(), 2, "only the accepted uploads are audited");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_uploads_a_recording_and_refuses_what_is_not_audio() {
    let sandbox = Sandbox::start(|_| {}).await;
    let services = sandbox.services();
    let viewer = Caller::key(&sandbox, &sandbox.workspace.id, Role::Viewer).await;
    let call = missed_call(&sandbox, &viewer).await;
    let (key, _) = calling::accounts::api_keys::create(
        &services.db,
        &sandbox.workspace.id,
        "cli",
        Role::Agent,
        "test",
        services.clock.now(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("call.wav");
    std::fs::write(&audio, wav(800)).unwrap();
    let text = dir.path().join("call.mp3");
    std::fs::write(&text, "not audio at all").unwrap();
    let url = sandbox.server.url.clone();
    let run = move |file: &std::path::Path| {
        let output = Command::new(BINARY)
            .args(["calling", "upload-recording"])
            .arg(file)
            .args(["--call-id", &call])
            .env("SWITCHBOARD_URL", &url)
            .env("SWITCHBOARD_API_KEY", &key)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output.status.success(), json, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (ok, uploaded, err) = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&audio)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(
        (uploaded["format"].as_str(), uploaded["file_name"].as_str()),
        (Some("wav"), Some("call.wav"))
    );
    let (ok, _, err) = tokio::task::spawn_blocking(move || run(&text)).await.unwrap();
    assert!(!ok && err.contains("unsupported_recording") && err.contains("HTTP 400"), "{err}");
}
