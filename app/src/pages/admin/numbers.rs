//! `/admin/numbers`: the workspace's WhatsApp numbers — what is connected (display number,
//! country, Meta's ids, the Graph API version and base URL, sandbox or WhatsApp; never a
//! secret), connecting another, editing one (a blank secret keeps the stored one), and "Test
//! connection", which reads the number's calling settings from WhatsApp with its own
//! credentials and shows WhatsApp's refusal in plain words with its code.
//!
//! The rules are `calling::numbers`' — the same [`NumberForm::problems`] checks the form as you
//! type in the browser and the server functions here and the REST API
//! (`/api/v1/app/numbers`) apply them again. Everyone who may see settings sees the list and
//! may test; `ChangeSettings` connects and edits, audited like the REST API.
//!
//! The REST API also drops its webhook secrets cache at once after a change; a change made here
//! reaches the webhook check when that cache is re-read (a new secret at the first delivery
//! signed with it, an old one within 30 seconds).

use calling::numbers::{FormMode, NumberForm, WhatsAppNumber};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{FormReply, action_error};
use crate::form_action::FormAction;
use crate::format;
use crate::server_resource::ServerResource;

/// The numbers and whether the signed-in member may change them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberList {
    pub can_change: bool,
    pub numbers: Vec<WhatsAppNumber>,
}

/// What "Test connection" found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionTest {
    /// WhatsApp answered with the number's calling settings.
    Works { number: String, calling: String, restrictions: usize },
    /// WhatsApp refused, or could not be reached: its words, its code and what to do.
    Refused { number: String, message: String, meta_code: Option<i64>, hint: String },
}

/// The workspace's numbers, oldest first.
#[server(output = crate::json_text::JsonText)]
pub async fn list_admin_numbers() -> Result<NumberList, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ViewSettings).await?;
    let numbers = calling::numbers::list(&services.db, &member.workspace.id).await.map_err(server_error)?;
    Ok(NumberList { can_change: member.role.allows(Permission::ChangeSettings), numbers })
}

/// A refused field as the form shows it; anything else is the server function's error.
#[cfg(feature = "ssr")]
fn form_reply<T>(result: calling::Result<T>) -> Result<Result<T, FormReply<WhatsAppNumber>>, ServerFnError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(calling::Error::Validation { field, message }) => Ok(Err(FormReply::Invalid { field, message })),
        Err(err @ calling::Error::Conflict { code: "number_already_connected", .. }) => {
            Ok(Err(FormReply::Invalid { field: "phone_number_id".into(), message: err.public_message() }))
        }
        Err(err) => Err(crate::api::ssr::server_error(err)),
    }
}

/// Connects a number to the workspace.
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn connect_admin_number(form: NumberForm) -> Result<FormReply<WhatsAppNumber>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    use calling::numbers::{NewNumber, NumberCredentials};
    let services = services()?;
    let member = member(&services, Permission::ChangeSettings).await?;
    let new = NewNumber {
        phone_number_id: form.phone_number_id,
        waba_id: form.waba_id,
        phone_number: form.phone_number,
        credentials: NumberCredentials {
            access_token: form.access_token,
            app_secret: form.app_secret,
            verify_token: form.verify_token,
        },
        graph_api_version: Some(form.graph_api_version),
        graph_api_base_url: Some(form.graph_api_base_url),
        is_sandbox: false,
    };
    let connected = calling::numbers::connect(
        &services.db,
        &services.secret_key,
        &member.workspace.id,
        new,
        services.clock.now(),
    )
    .await;
    let number = match form_reply(connected)? {
        Ok(number) => number,
        Err(refused) => return Ok(refused),
    };
    let details = serde_json::json!({
        "phone_number_id": number.phone_number_id,
        "display_phone_number": number.display_phone_number,
    });
    record(&services, &member, "number.connected", &number.id, details).await?;
    Ok(FormReply::Done(number))
}

/// Changes a connected number; blank secrets are kept.
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn update_admin_number(
    id: String,
    form: NumberForm,
) -> Result<FormReply<WhatsAppNumber>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ChangeSettings).await?;
    let updated = calling::numbers::update(
        &services.db,
        &services.secret_key,
        &member.workspace.id,
        &id,
        form,
        services.clock.now(),
    )
    .await;
    let (number, replaced) = match form_reply(updated)? {
        Ok(updated) => updated,
        Err(refused) => return Ok(refused),
    };
    let details = calling::numbers::update_details(&number, &replaced);
    record(&services, &member, "number.updated", &number.id, details).await?;
    Ok(FormReply::Done(number))
}

/// Reads the number's calling settings from WhatsApp with its own credentials, as
/// `POST /api/v1/app/numbers/:id/test` does; WhatsApp's refusal is an answer here, not an error.
#[server(output = crate::json_text::JsonText)]
pub async fn test_admin_number(id: String) -> Result<ConnectionTest, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ViewSettings).await?;
    let number =
        calling::numbers::get(&services.db, &member.workspace.id, &id).await.map_err(server_error)?;
    match calling::numbers::test_connection(&services, &member.workspace.id, &id).await {
        Ok((_, settings)) => Ok(ConnectionTest::Works {
            number: number.display_phone_number,
            calling: settings.status.map_or_else(|| "not reported".to_owned(), |status| status.to_string()),
            restrictions: settings.restrictions.map_or(0, |r| r.restrictions_list.len()),
        }),
        Err(calling::Error::WhatsApp { message, meta_code, .. }) => Ok(ConnectionTest::Refused {
            number: number.display_phone_number,
            message,
            meta_code,
            hint: calling::numbers::connection_hint(meta_code).to_owned(),
        }),
        Err(err) => Err(server_error(err)),
    }
}

/// The WhatsApp numbers section.
#[component]
pub fn NumbersPage() -> impl IntoView {
    let connect = FormAction::<ConnectAdminNumber>::new();
    let update = FormAction::<UpdateAdminNumber>::new();
    let test = FormAction::<TestAdminNumber>::new();
    let list = ServerResource::new(
        move || (connect.version().get(), update.version().get()),
        |_| list_admin_numbers(),
    );
    // Read once: whether the connect form shows must not follow the list's refetches, or the
    // form would be rebuilt (and what was typed lost) every time it is submitted.
    let access = ServerResource::new(|| (), |_| list_admin_numbers());
    let editing = RwSignal::new(None::<WhatsAppNumber>);
    view! {
        <Title text="WhatsApp numbers" />
        <div class="page-head">
            <h1>"WhatsApp numbers"</h1>
        </div>
        <p class="lead">
            "The business numbers this workspace answers and places calls on. Credentials are stored sealed and never shown again; "
            "“Test connection” asks WhatsApp for the number's calling settings with them."
        </p>
        <section class="card" aria-labelledby="numbers-heading">
            <h2 id="numbers-heading">"Connected numbers"</h2>
            <TestOutcome test />
            {move || {
                update.value().with(|value| match value {
                    Some(Ok(FormReply::Done(number))) => Some(view! {
                        <p class="ok" role="status">{format!("Saved the changes to {}.", number.display_phone_number)}</p>
                    }),
                    _ => None,
                })
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading numbers…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) if list.numbers.is_empty() => {
                            view! { <p class="empty">"No number is connected yet."</p> }.into_any()
                        }
                        Ok(list) => view! { <NumberTable list test editing /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {move || editing.get().map(|number| view! { <EditNumber number update editing /> }.into_any())}
        // The connect form waits for the permission only and is never rebuilt by a refetch, so
        // what was typed survives a refused field.
        <Suspense>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(list) if list.can_change => view! { <ConnectNumber connect /> }.into_any(),
                    Ok(_) => {
                        view! {
                            <p class="notice" role="note">
                                "Your role can see and test the numbers but not connect or edit them. Ask an owner or admin."
                            </p>
                        }
                            .into_any()
                    }
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TestOutcome(test: FormAction<TestAdminNumber>) -> impl IntoView {
    move || {
        if test.pending().get() {
            return Some(view! { <p class="muted" role="status">"Asking WhatsApp…"</p> }.into_any());
        }
        if let Some(message) = action_error(&test) {
            return Some(view! { <p class="error" role="alert">{message}</p> }.into_any());
        }
        test.value().get().and_then(Result::ok).map(|outcome| match outcome {
            ConnectionTest::Works { number, calling, restrictions } => {
                let restricted = match restrictions {
                    0 => String::new(),
                    n => format!(" WhatsApp reports {n} active restriction(s); see Calling → Settings."),
                };
                view! {
                    <p class="ok connection-test" role="status">
                        {format!("{number}: the connection works. WhatsApp reports calling {calling}.{restricted}")}
                    </p>
                }
                .into_any()
            }
            ConnectionTest::Refused { number, message, meta_code, hint } => {
                let code = meta_code.map_or_else(|| "no error code".to_owned(), |code| format!("Meta error {code}"));
                view! {
                    <div class="error connection-test" role="alert">
                        <p><strong>{format!("{number}: the connection failed ({code}).")}</strong>" "{hint}</p>
                        <p class="muted">"WhatsApp said: "{message}</p>
                    </div>
                }
                .into_any()
            }
        })
    }
}

#[component]
fn NumberTable(
    list: NumberList,
    test: FormAction<TestAdminNumber>,
    editing: RwSignal<Option<WhatsAppNumber>>,
) -> impl IntoView {
    let can_change = list.can_change;
    let rows = list
        .numbers
        .into_iter()
        .map(|number| {
            let id = StoredValue::new(number.id.clone());
            let kind = if number.is_sandbox {
                view! { <span class="badge sandbox">"Sandbox"</span> }.into_any()
            } else {
                view! { <span class="badge active">"WhatsApp"</span> }.into_any()
            };
            let edit = (can_change && !number.is_sandbox).then(|| {
                let number = StoredValue::new(number.clone());
                view! {
                    <button class="button quiet" type="button" on:click=move |_| editing.set(Some(number.get_value()))>
                        "Edit"
                    </button>
                }
            });
            view! {
                <tr data-number=number.display_phone_number.clone()>
                    <td class="number-display">{number.display_phone_number.clone()}</td>
                    <td>{number.country.clone().unwrap_or_else(|| "—".to_owned())}</td>
                    <td><code>{number.phone_number_id.clone()}</code></td>
                    <td><code>{number.waba_id.clone()}</code></td>
                    <td>{number.graph_api_version.clone()} <span class="muted">" at "</span><code>{number.graph_api_base_url.clone()}</code></td>
                    <td>{kind}</td>
                    <td>{format::utc_timestamp(number.created_at)}</td>
                    <td class="row-actions">
                        <button
                            class="button quiet"
                            type="button"
                            disabled=move || test.pending().get()
                            on:click=move |_| {
                                test.dispatch_fields(&[("id", &id.get_value())]);
                            }
                        >
                            "Test connection"
                        </button>
                        {edit}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="numbers">
                <thead>
                    <tr>
                        <th scope="col">"Number"</th>
                        <th scope="col">"Country"</th>
                        <th scope="col">"Phone number ID"</th>
                        <th scope="col">"WABA ID"</th>
                        <th scope="col">"Graph API"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Connected"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The form's fields in order: (name, label, input type, hint when connecting, hint when
/// editing).
const FIELDS: [(&str, &str, &str, &str, &str); 8] = [
    (
        "phone_number_id",
        "Phone number ID",
        "text",
        "Meta's id of the number (WhatsApp Manager → API setup), digits only.",
        "Cannot change: connect the other number instead.",
    ),
    ("waba_id", "WhatsApp Business Account ID", "text", "Digits only.", "Digits only."),
    (
        "phone_number",
        "Display number",
        "tel",
        "With its country code, e.g. +44 20 7946 0958.",
        "With its country code, e.g. +44 20 7946 0958.",
    ),
    (
        "access_token",
        "Access token",
        "password",
        "A system-user token with the WhatsApp permissions.",
        "Leave blank to keep the current one.",
    ),
    (
        "app_secret",
        "App secret",
        "password",
        "Signs WhatsApp's webhooks (Meta app → Settings → Basic).",
        "Leave blank to keep the current one.",
    ),
    (
        "verify_token",
        "Webhook verify token",
        "password",
        "The token you gave Meta for the webhook handshake.",
        "Leave blank to keep the current one.",
    ),
    ("graph_api_version", "Graph API version", "text", "Blank for v23.0.", "Blank for v23.0."),
    (
        "graph_api_base_url",
        "Graph API base URL",
        "url",
        "Blank for https://graph.facebook.com.",
        "Blank for https://graph.facebook.com.",
    ),
];

/// One signal per field of a [`NumberForm`].
#[derive(Clone, Copy)]
struct FormFields([RwSignal<String>; 8]);

impl FormFields {
    fn new(initial: NumberForm) -> Self {
        let NumberForm {
            phone_number_id,
            waba_id,
            phone_number,
            access_token,
            app_secret,
            verify_token,
            graph_api_version,
            graph_api_base_url,
        } = initial;
        FormFields(
            [
                phone_number_id,
                waba_id,
                phone_number,
                access_token,
                app_secret,
                verify_token,
                graph_api_version,
                graph_api_base_url,
            ]
            .map(RwSignal::new),
        )
    }

    /// The form as typed (tracked, so a memo over it follows the typing).
    fn form(&self) -> NumberForm {
        let [
            phone_number_id,
            waba_id,
            phone_number,
            access_token,
            app_secret,
            verify_token,
            graph_api_version,
            graph_api_base_url,
        ] = self.0.map(|field| field.get());
        NumberForm {
            phone_number_id,
            waba_id,
            phone_number,
            graph_api_version,
            graph_api_base_url,
            access_token,
            app_secret,
            verify_token,
        }
    }
}

/// The inputs of a connect or edit form. Each field's problem shows once the field was left
/// or the form submitted, checked by `calling::numbers`' rules; a refusal from the server
/// shows under its field.
#[component]
fn NumberFields(
    prefix: &'static str,
    mode: FormMode,
    fields: FormFields,
    submitted: RwSignal<bool>,
    server: Signal<Option<(String, String)>>,
) -> impl IntoView {
    let touched = RwSignal::new(Vec::<&'static str>::new());
    let problems = Memo::new(move |_| fields.form().problems(mode));
    let problem_of = move |name: &'static str| {
        let live = problems
            .with(|all| all.iter().find(|(field, _)| field == name).map(|(_, message)| message.clone()));
        let shown = live.filter(|_| submitted.get() || touched.with(|t| t.contains(&name)));
        shown.or_else(|| server.get().filter(|(field, _)| field == name).map(|(_, message)| message))
    };
    FIELDS
        .into_iter()
        .zip(fields.0)
        .map(|((name, label, kind, connect_hint, edit_hint), value)| {
            let id = format!("{prefix}-{name}");
            let error_id = format!("{id}-error");
            let hint = if mode == FormMode::Edit { edit_hint } else { connect_hint };
            let locked = mode == FormMode::Edit && name == "phone_number_id";
            let required = mode == FormMode::Connect && !name.starts_with("graph_api");
            view! {
                <div class="field">
                    <label for=id.clone()>{label}</label>
                    <input
                        id=id
                        type=kind
                        name=name
                        autocomplete="off"
                        required=required
                        readonly=locked
                        bind:value=value
                        on:blur=move |_| touched.update(|t| if !t.contains(&name) { t.push(name) })
                        aria-describedby=error_id.clone()
                        aria-invalid=move || problem_of(name).is_some().to_string()
                    />
                    <span class="hint">{hint}</span>
                    <span class="field-error" id=error_id>{move || problem_of(name)}</span>
                </div>
            }
        })
        .collect_view()
}

/// The server's refusal of the last submission, as `(field, message)`.
fn refused_field(
    value: &Option<Result<FormReply<WhatsAppNumber>, ServerFnError>>,
) -> Option<(String, String)> {
    match value {
        Some(Ok(FormReply::Invalid { field, message })) => Some((field.clone(), message.clone())),
        _ => None,
    }
}

#[component]
fn ConnectNumber(connect: FormAction<ConnectAdminNumber>) -> impl IntoView {
    let fields = FormFields::new(NumberForm::default());
    let submitted = RwSignal::new(false);
    let server = Signal::derive(move || connect.value().with(refused_field));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        let form = fields.form();
        if form.problems(FormMode::Connect).is_empty() {
            connect.dispatch_json(&ConnectAdminNumber { form });
        }
    };
    Effect::new(move || {
        if let Some(Ok(FormReply::Done(_))) = connect.value().get() {
            for field in fields.0 {
                field.set(String::new());
            }
            submitted.set(false);
        }
    });
    let outcome = move || {
        if let Some(message) = action_error(&connect) {
            return Some(view! { <p class="error" role="alert">{message}</p> }.into_any());
        }
        connect.value().with(|value| match value {
            Some(Ok(FormReply::Done(number))) => Some(
                view! {
                    <p class="ok" role="status">
                        {format!("Connected {}. Test the connection from the list above.", number.display_phone_number)}
                    </p>
                }
                .into_any(),
            ),
            _ => None,
        })
    };
    view! {
        <section class="card" aria-labelledby="connect-heading">
            <h2 id="connect-heading">"Connect a number"</h2>
            <form class="admin-form stacked number-form" on:submit=on_submit novalidate>
                <NumberFields prefix="connect" mode=FormMode::Connect fields submitted server />
                <button class="button" type="submit" disabled=move || connect.pending().get()>
                    {move || if connect.pending().get() { "Connecting…" } else { "Connect number" }}
                </button>
            </form>
            {outcome}
        </section>
    }
    .into_any()
}

#[component]
fn EditNumber(
    number: WhatsAppNumber,
    update: FormAction<UpdateAdminNumber>,
    editing: RwSignal<Option<WhatsAppNumber>>,
) -> impl IntoView {
    let id = StoredValue::new(number.id.clone());
    let title = format!("Edit {}", number.display_phone_number);
    let fields = FormFields::new(NumberForm {
        phone_number_id: number.phone_number_id,
        waba_id: number.waba_id,
        phone_number: number.display_phone_number,
        graph_api_version: number.graph_api_version,
        graph_api_base_url: number.graph_api_base_url,
        ..NumberForm::default()
    });
    let submitted = RwSignal::new(false);
    // Only what this editor sent counts: an earlier edit's reply is not this one's.
    let version_at_open = update.version().get_untracked();
    let mine = move || update.version().get() > version_at_open;
    let server = Signal::derive(move || if mine() { update.value().with(refused_field) } else { None });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        let form = fields.form();
        if form.problems(FormMode::Edit).is_empty() {
            update.dispatch_json(&UpdateAdminNumber { id: id.get_value(), form });
        }
    };
    Effect::new(move || {
        if mine() && matches!(update.value().get(), Some(Ok(FormReply::Done(_)))) {
            editing.set(None);
        }
    });
    let error = move || mine().then(|| action_error(&update)).flatten();
    view! {
        <section class="card" aria-labelledby="edit-number-heading">
            <h2 id="edit-number-heading">{title}</h2>
            <form class="admin-form stacked number-form" on:submit=on_submit novalidate>
                <NumberFields prefix="edit" mode=FormMode::Edit fields submitted server />
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || update.pending().get()>
                        {move || if update.pending().get() { "Saving…" } else { "Save changes" }}
                    </button>
                    <button class="button quiet" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                </div>
            </form>
            {move || error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
    .into_any()
}
