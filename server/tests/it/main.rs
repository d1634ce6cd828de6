//! The server's integration tests, linked into one binary: every file below drives the real
//! server (over HTTP, as a process, or through its router) against real SQLite and, when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set, PostgreSQL. One binary instead of one per file
//! saves a link of the whole server per file, in time and in disk.

mod support;

mod accounts;
mod accounts_cli;
mod admin_page;
mod answering;
mod api_calling;
mod billing;
mod billing_page;
mod call_actions;
mod cli_client;
mod contacts;
mod events;
mod http;
mod isolation;
mod kill;
mod mail;
mod numbers;
mod openapi;
mod permissions;
mod process;
mod recordings;
mod replicas;
mod settings;
mod settings_page;
mod templates;
mod templates_page;
mod webhooks;
