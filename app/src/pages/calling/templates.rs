//! The Templates section: the workspace's calling templates and everything done with them, in two
//! pages. `/calling/templates`: the list with each template's type, review status and default
//! badge; the forms that create call-button and permission templates; set default; delete after a
//! confirmation. `/calling/templates/send`: sending a template to a WhatsApp number, and the
//! `wa.me/call` link and QR code generator.
//!
//! The server functions apply the same roles and rules as `/api/v1/app/calling/templates…`
//! (`server::api::templates_routes`): anyone who sees settings lists, `ManageTemplates` creates,
//! deletes and sets defaults, `SendTemplates` sends. The rules themselves live in
//! `calling::templates`.

use calling::deep_links::DeepLink;
use calling::templates::{ButtonTarget, SentTemplate, Template, TemplateKind, TemplateStatus};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::api::FormReply;
use crate::api::error_text;
use crate::form_action::{FormAction, ServerForm};
use crate::format;
use crate::pages::SectionHead;
use crate::server_resource::ServerResource;

/// What the signed-in member may do on this page (the list is open to everyone who sees it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRights {
    pub can_manage: bool,
    pub can_send: bool,
}

/// A send as the page's form gives it: every value as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSendForm {
    pub template_id: String,
    pub to: String,
    /// The body's values, `{{1}}` first.
    pub vars: Vec<String>,
    /// WhatsApp call buttons only; blank for the template's own lifetime.
    pub ttl_minutes: String,
    /// WhatsApp call buttons only; blank for none.
    pub payload: String,
}

/// A call button as the create form gives it (inputs named `button[label]`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonFields {
    pub label: String,
    /// `whatsapp_call`, `phone_number` or `url`: decides which of the fields below count (the
    /// form sends them all).
    pub target: String,
    pub phone_number: String,
    pub url: String,
    pub ttl_minutes: String,
}

/// Which of the page's controls the signed-in member gets.
#[server(output = crate::json_text::JsonText)]
pub async fn template_access() -> Result<TemplateRights, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let role = member(&services, Permission::ViewSettings).await?.role;
    Ok(TemplateRights {
        can_manage: role.allows(Permission::ManageTemplates),
        can_send: role.allows(Permission::SendTemplates),
    })
}

/// Every template of the current workspace: call buttons first, oldest first within a kind.
#[server(output = crate::json_text::JsonText)]
pub async fn list_templates() -> Result<Vec<Template>, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let workspace = member(&services, Permission::ViewSettings).await?.workspace;
    calling::templates::list(&services.db, &workspace.id).await.map_err(server_error)
}

/// Creates a call-button template on the workspace's first number.
#[server(output = crate::json_text::JsonText)]
pub async fn create_call_button_template(
    name: String,
    language: String,
    category: String,
    body: String,
    examples: String,
    button: ButtonFields,
) -> Result<FormReply<Template>, ServerFnError> {
    use self::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageTemplates).await?;
    let (phone_number, url, ttl_minutes) = match ButtonTarget::parse(&button.target) {
        Some(ButtonTarget::WhatsappCall) => {
            match optional(button.ttl_minutes).map(|ttl| ttl.parse::<i64>()) {
                Some(Err(_)) => return Ok(invalid("ttl_minutes", "must be a whole number of minutes")),
                ttl => (None, None, ttl.and_then(Result::ok)),
            }
        }
        Some(ButtonTarget::PhoneNumber) => (Some(button.phone_number), None, None),
        Some(ButtonTarget::Url) => (None, Some(button.url), None),
        None => return Ok(invalid("target", "choose what the button does")),
    };
    let request = calling::templates::CallButtonRequest {
        name: Some(name),
        language: optional(language),
        category: optional(category),
        body: optional(body),
        examples: lines(&examples),
        label: optional(button.label),
        phone_number,
        url,
        ttl_minutes,
        phone_number_id: None,
    };
    let created = match request.validate() {
        Ok(spec) => create(&services, &member, &spec).await,
        Err(err) => Err(err),
    };
    reply(created)
}

/// Creates a permission-request template on the workspace's first number.
#[server(output = crate::json_text::JsonText)]
pub async fn create_permission_template(
    name: String,
    language: String,
    category: String,
    body: String,
    examples: String,
    header: String,
    footer: String,
) -> Result<FormReply<Template>, ServerFnError> {
    use self::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageTemplates).await?;
    let request = calling::templates::PermissionRequest {
        name: Some(name),
        language: optional(language),
        category: optional(category),
        // Blank is "required" here: a permission template has no default body.
        body: Some(body),
        examples: lines(&examples),
        header: optional(header),
        footer: optional(footer),
        phone_number_id: None,
    };
    let created = match request.validate() {
        Ok(spec) => create(&services, &member, &spec).await,
        Err(err) => Err(err),
    };
    reply(created)
}

/// Makes a template the default of its kind.
#[server(output = crate::json_text::JsonText)]
pub async fn set_default_template(id: String) -> Result<Template, ServerFnError> {
    use self::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageTemplates).await?;
    let template =
        calling::templates::set_default(&services.db, &member.workspace.id, &id, services.clock.now())
            .await
            .map_err(server_error)?;
    record(&services, &member, "template.default_set", &template).await.map_err(server_error)?;
    Ok(template)
}

/// Deletes a template at WhatsApp, then here (see `calling::templates::delete`); when
/// WhatsApp refuses, nothing is deleted and its error is the answer.
#[server(output = crate::json_text::JsonText)]
pub async fn delete_template(id: String) -> Result<Template, ServerFnError> {
    use self::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ManageTemplates).await?;
    let client = calling::graph::GraphClient::new().map_err(server_error)?;
    let template = calling::templates::delete(&services, &client, &member.workspace.id, &id)
        .await
        .map_err(server_error)?;
    record(&services, &member, "template.deleted", &template).await.map_err(server_error)?;
    Ok(template)
}

/// Sends a template to a WhatsApp number: the checks, the permission-request quota and
/// billing's preflight of `calling::templates::send`, then WhatsApp. Billing refusals carry
/// their "how to fix it" hint in the message.
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn send_template(form: TemplateSendForm) -> Result<FormReply<SentTemplate>, ServerFnError> {
    use self::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::SendTemplates).await?;
    let ttl_minutes = match optional(form.ttl_minutes).map(|ttl| ttl.parse::<i64>()) {
        Some(Err(_)) => return Ok(invalid("ttl_minutes", "must be a whole number of minutes")),
        ttl => ttl.and_then(Result::ok),
    };
    let request = calling::templates::SendRequest {
        template_id: optional(form.template_id),
        to: Some(form.to),
        vars: serde_json::Value::from(form.vars),
        ttl_minutes,
        payload: optional(form.payload),
    };
    let sent = match calling::graph::GraphClient::new() {
        Ok(client) => {
            let actor = member.actor();
            calling::templates::send(&services, &client, &member.workspace.id, &request, &actor).await
        }
        Err(err) => Err(err),
    };
    reply(sent.map_err(with_hint))
}

#[cfg(feature = "ssr")]
mod ssr {
    //! What the server functions above share: form values to domain requests, creation with its
    //! audit entry, and domain results to form replies.
    use calling::Services;
    use calling::templates::{Template, TemplateSpec};
    use leptos::prelude::ServerFnError;
    use serde_json::{Value, json};

    use super::FormReply;
    use crate::api::ssr::{Member, server_error};

    /// A text field: `None` when left blank.
    pub fn optional(raw: String) -> Option<String> {
        Some(raw).filter(|value| !value.trim().is_empty())
    }

    /// A textarea with one value per line; blank lines are not values.
    pub fn lines(raw: &str) -> Vec<String> {
        raw.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
    }

    pub fn invalid<T>(field: &str, message: &str) -> FormReply<T> {
        FormReply::Invalid { field: field.to_owned(), message: message.to_owned() }
    }

    /// A refused field comes back as a reply; a name WhatsApp already has is the name
    /// field's problem. Anything else is an error with the REST API's status.
    pub fn reply<T>(result: calling::Result<T>) -> Result<FormReply<T>, ServerFnError> {
        match result {
            Ok(value) => Ok(FormReply::Done(value)),
            Err(calling::Error::Validation { field, message }) => Ok(FormReply::Invalid { field, message }),
            Err(err @ calling::Error::Conflict { code: "template_exists", .. }) => {
                Ok(FormReply::Invalid { field: "name".to_owned(), message: err.public_message() })
            }
            Err(err) => Err(server_error(err)),
        }
    }

    /// Billing's refusals end with what to do about them (top up, renew).
    pub fn with_hint(err: calling::Error) -> calling::Error {
        match err {
            calling::Error::PaymentRequired { code, message, details } => {
                let message = match details.get("hint").and_then(Value::as_str) {
                    Some(hint) => format!("{message}. {hint}"),
                    None => message,
                };
                calling::Error::PaymentRequired { code, message, details }
            }
            other => other,
        }
    }

    /// Submits a template to WhatsApp on the workspace's first number, stores it, and audits it
    /// as `POST /templates/…` does.
    pub async fn create(
        services: &Services,
        member: &Member,
        spec: &TemplateSpec,
    ) -> calling::Result<Template> {
        let client = calling::graph::GraphClient::new()?;
        let template =
            calling::templates::create(services, &client, &member.workspace.id, spec, None, &member.actor())
                .await?;
        record(services, member, "template.created", &template).await?;
        Ok(template)
    }

    /// The audit entry the REST API writes for the same change.
    pub async fn record(
        services: &Services,
        member: &Member,
        action: &str,
        template: &Template,
    ) -> calling::Result<()> {
        let details = json!({ "name": template.name, "type": template.kind, "language": template.language });
        crate::api::ssr::record_audit(services, member, action, Some(&template.template_id), details).await
    }
}

fn kind_text(kind: TemplateKind) -> &'static str {
    match kind {
        TemplateKind::CallButton => "Call button",
        TemplateKind::Permission => "Permission request",
    }
}

fn status_text(status: TemplateStatus) -> &'static str {
    match status {
        TemplateStatus::Pending => "Pending review",
        TemplateStatus::Approved => "Approved",
        TemplateStatus::Rejected => "Rejected",
        TemplateStatus::Paused => "Paused",
        TemplateStatus::Disabled => "Disabled",
        TemplateStatus::InAppeal => "In appeal",
        TemplateStatus::PendingDeletion => "Pending deletion",
        TemplateStatus::Deleted => "Deleted",
        TemplateStatus::LimitExceeded => "Limit exceeded",
        TemplateStatus::Archived => "Archived",
    }
}

/// `10080` → `7 days`; minutes that are not whole days stay minutes.
fn lifetime(minutes: i64) -> String {
    match minutes {
        1440 => "1 day".to_owned(),
        m if m % 1440 == 0 => format!("{} days", m / 1440),
        m => format!("{m} minutes"),
    }
}

/// What the template's button does, or what a permission request says above its body.
fn button_text(template: &Template) -> String {
    let label = template.label.clone().unwrap_or_default();
    match template.target {
        Some(ButtonTarget::WhatsappCall) => match template.ttl_minutes {
            Some(ttl) => format!("“{label}” calls you on WhatsApp (works {})", lifetime(ttl)),
            None => format!("“{label}” calls you on WhatsApp"),
        },
        Some(ButtonTarget::PhoneNumber) => {
            format!("“{label}” dials {}", template.phone_number.clone().unwrap_or_default())
        }
        Some(ButtonTarget::Url) => format!("“{label}” opens {}", template.url.clone().unwrap_or_default()),
        None => "Asks to allow calls".to_owned(),
    }
}

/// The message of the last reply's refusal when it names `field`.
fn refusal_of<T>(value: &Option<Result<FormReply<T>, ServerFnError>>, field: &str) -> Option<String> {
    match value {
        Some(Ok(FormReply::Invalid { field: refused, message })) if refused == field => Some(message.clone()),
        _ => None,
    }
}

/// The last reply's refusal when it names none of `fields` (so no field shows it), or its error.
fn form_problem<T>(value: &Option<Result<FormReply<T>, ServerFnError>>, fields: &[&str]) -> Option<String> {
    match value {
        Some(Ok(FormReply::Invalid { field, message })) if !fields.contains(&field.as_str()) => {
            Some(format!("{field}: {message}"))
        }
        Some(Err(err)) => Some(error_text(err)),
        _ => None,
    }
}

/// The message under a field; always present (empty when fine) so `aria-describedby` always
/// points somewhere.
#[component]
fn FieldError(id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <span class="field-error" id=id>
            {move || message.get()}
        </span>
    }
}

/// The page: the list for everyone who may see it, the send form for those who may send, the
/// create forms for those who manage templates.
/// The Templates section's two pages, each its own lazy route (so each loads only its own code).
const TEMPLATE_PAGES: [(&str, &str); 2] =
    [("/calling/templates", "Your templates"), ("/calling/templates/send", "Send and share")];

const TEMPLATES_LEAD: &str = "Call-button templates add a tap-to-call button to your messages; permission templates ask a customer to let you call them. WhatsApp reviews each template before it can be sent; the default of each kind is used when a send names none.";

/// `/calling/templates`: the list (set default, delete) and the create forms.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    let access = ServerResource::new(|| (), |_| template_access());
    let create_call_button = FormAction::<CreateCallButtonTemplate>::new();
    let create_permission = FormAction::<CreatePermissionTemplate>::new();
    let set_default = FormAction::<SetDefaultTemplate>::new();
    let delete = FormAction::<DeleteTemplate>::new();
    let templates = ServerResource::new(
        move || {
            (
                create_call_button.version().get(),
                create_permission.version().get(),
                set_default.version().get(),
                delete.version().get(),
            )
        },
        |_| list_templates(),
    );
    // Set default and delete act from the table's rows, which the refetch replaces: their
    // errors live here, above the table.
    let row_error = move || {
        let failed = |err: &ServerFnError| Some(error_text(err));
        set_default
            .value()
            .with(|value| value.as_ref().and_then(|result| result.as_ref().err().and_then(failed)))
            .or_else(|| {
                delete.value().with(|value| value.as_ref().and_then(|r| r.as_ref().err().and_then(failed)))
            })
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    view! {
        <SectionHead title="Templates" lead=TEMPLATES_LEAD pages=&TEMPLATE_PAGES />
        <section class="card" aria-labelledby="templates-heading">
            <h2 id="templates-heading">"Your templates"</h2>
            {row_error}
            <Transition fallback=|| view! { <p class="muted">"Loading templates…"</p> }>
                {move || Suspend::new(async move {
                    match (access.await, templates.await) {
                        (Ok(access), Ok(list)) if list.is_empty() => {
                            let hint = if access.can_manage {
                                "No calling templates yet. Create one below."
                            } else {
                                "No calling templates yet. An owner or admin can create them."
                            };
                            view! { <p class="empty">{hint}</p> }.into_any()
                        }
                        (Ok(access), Ok(list)) => {
                            view! { <TemplateTable list can_manage=access.can_manage set_default delete /> }
                                .into_any()
                        }
                        (Err(err), _) | (_, Err(err)) => {
                            view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
        // The create forms wait for the role only: they are never rebuilt, so what was typed
        // survives a refused field.
        <Suspense>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(access) if access.can_manage => {
                        view! {
                            <div class="template-forms">
                                <CallButtonForm action=create_call_button />
                                <PermissionForm action=create_permission />
                            </div>
                        }
                            .into_any()
                    }
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/calling/templates/send`: send an approved template to a WhatsApp number, and make a
/// `wa.me/call` link with its QR code.
#[component]
pub fn TemplateSendPage() -> impl IntoView {
    let access = ServerResource::new(|| (), |_| template_access());
    let templates = ServerResource::new(|| (), |_| list_templates());
    let send = FormAction::<SendTemplate>::new();
    view! {
        <SectionHead title="Templates" lead=TEMPLATES_LEAD pages=&TEMPLATE_PAGES />
        <Transition fallback=|| view! { <p class="muted">"Loading templates…"</p> }>
            {move || Suspend::new(async move {
                match (access.await, templates.await) {
                    (Ok(access), Ok(list)) if access.can_send => view! { <SendPanel list send /> }.into_any(),
                    (Ok(_), Ok(_)) => view! {
                        <p class="notice">"Your role can see templates but not send them; owners, admins and agents can."</p>
                    }
                        .into_any(),
                    (Err(err), _) | (_, Err(err)) => {
                        view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any()
                    }
                }
            })}
        </Transition>
        <DeepLinkCard />
    }
}

#[component]
fn TemplateTable(
    list: Vec<Template>,
    can_manage: bool,
    set_default: FormAction<SetDefaultTemplate>,
    delete: FormAction<DeleteTemplate>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|template| {
            let status = template.status;
            let kind = template.kind;
            let default_badge = template.is_default.then(|| {
                view! {
                    <span class="badge default" title=format!("Sends of {} templates use this one", kind_text(kind).to_lowercase())>
                        "Default"
                    </span>
                }
            });
            let actions = can_manage.then(|| {
                let id = template.template_id.clone();
                let set_default_form = (!template.is_default).then(|| {
                    let id = id.clone();
                    view! {
                        <ServerForm action=set_default attr:class="row-action">
                            <input type="hidden" name="id" value=id />
                            <button class="button quiet" type="submit">"Set as default"</button>
                        </ServerForm>
                    }
                });
                view! {
                    <td>
                        <div class="actions">
                            {set_default_form}
                            <DeleteControl id name=template.name.clone() delete />
                        </div>
                    </td>
                }
                .into_any()
            });
            view! {
                <tr data-template=template.name.clone()>
                    <td>
                        <span class="template-name">{template.name.clone()}</span>
                        " "
                        {default_badge}
                        <span class="template-meta">{template.language.clone()} " · " {template.category.as_str()}</span>
                        <span class="template-body">{template.body.clone()}</span>
                    </td>
                    <td>{kind_text(kind)}</td>
                    <td>
                        <span class=format!("badge template-status {}", status.as_str())>{status_text(status)}</span>
                        {template
                            .status_reason
                            .clone()
                            .map(|reason| view! { <span class="template-meta">"Reason: " {reason}</span> })}
                    </td>
                    <td class="template-button">{button_text(&template)}</td>
                    {actions}
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="templates">
                <thead>
                    <tr>
                        <th scope="col">"Template"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Button"</th>
                        {can_manage.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Delete, then "are you sure?" in place: the second step says what happens and deletes for
/// real; Cancel (or Escape) steps back.
#[component]
fn DeleteControl(id: String, name: String, delete: FormAction<DeleteTemplate>) -> impl IntoView {
    let confirming = RwSignal::new(false);
    // The confirmation is rebuilt each time it opens.
    let id = StoredValue::new(id);
    let confirm_button = NodeRef::<leptos::html::Button>::new();
    let delete_button = NodeRef::<leptos::html::Button>::new();
    // Keyboard users land on the choice they just opened, and back on Delete when stepping back
    // (after the swap has rendered).
    let open = move |_| {
        confirming.set(true);
        request_animation_frame(move || {
            if let Some(button) = confirm_button.get_untracked() {
                let _ = button.focus();
            }
        });
    };
    let step_back = move || {
        confirming.set(false);
        request_animation_frame(move || {
            if let Some(button) = delete_button.get_untracked() {
                let _ = button.focus();
            }
        });
    };
    let question = format!("Delete {name}? It is deleted at WhatsApp too and cannot be sent again.");
    let group_label = format!("Confirm deleting {name}");
    view! {
        <Show
            when=move || confirming.get()
            fallback=move || {
                view! {
                    <button class="button quiet" type="button" node_ref=delete_button on:click=open>
                        "Delete"
                    </button>
                }
            }
        >
            <div
                class="confirm"
                role="group"
                aria-label=group_label.clone()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        step_back();
                    }
                }
            >
                <span>{question.clone()}</span>
                <ServerForm action=delete attr:class="row-action">
                    <input type="hidden" name="id" value=id.get_value() />
                    <button class="button danger" type="submit" node_ref=confirm_button disabled=move || delete.pending().get()>
                        "Delete for good"
                    </button>
                </ServerForm>
                <button class="button quiet" type="button" on:click=move |_| step_back()>
                    "Cancel"
                </button>
            </div>
        </Show>
    }
    .into_any()
}

/// The outcome line under a create form.
fn created_line(value: &Option<Result<FormReply<Template>, ServerFnError>>) -> Option<String> {
    match value {
        Some(Ok(FormReply::Done(template))) => Some(format!(
            "Created {}: {}.{}",
            template.name,
            status_text(template.status).to_lowercase(),
            if template.is_default { " It is the default of its kind." } else { "" }
        )),
        _ => None,
    }
}

/// Empties a create form once its template exists, ready for the next one.
fn reset_on_success(
    action: FormAction<
        impl leptos::server_fn::ServerFn<Output = FormReply<Template>, Error = ServerFnError> + 'static,
    >,
    form: NodeRef<leptos::html::Form>,
) {
    Effect::new(move || {
        if action.value().with(|value| matches!(value, Some(Ok(FormReply::Done(_)))))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
}

/// A labelled one-line input or textarea with its hint and, under it, the server's refusal of
/// it (the label names the control alone; hint and refusal are its description).
#[component]
fn TextField(
    /// The control's id; its hint and refusal are `{id}-hint` and `{id}-error`.
    id: &'static str,
    label: &'static str,
    name: &'static str,
    error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] value: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional)] required: bool,
    /// A textarea of this many rows; a one-line input when 0.
    #[prop(optional)]
    rows: u32,
    /// Hidden (but still sent) while this is true.
    #[prop(optional, into)]
    hidden: Signal<bool>,
) -> impl IntoView {
    let described = if hint.is_some() { format!("{id}-error {id}-hint") } else { format!("{id}-error") };
    let invalid = move || error.get().is_some().to_string();
    let control = if rows > 0 {
        view! {
            <textarea id=id name=name rows=rows placeholder=placeholder aria-invalid=invalid aria-describedby=described></textarea>
        }
        .into_any()
    } else {
        view! {
            <input type=kind id=id name=name value=value placeholder=placeholder required=required autocomplete="off"
                aria-invalid=invalid aria-describedby=described />
        }
        .into_any()
    };
    view! {
        <div class="field" hidden=move || hidden.get()>
            <label for=id>{label}</label>
            {control}
            {hint.map(|hint| view! { <span class="hint" id=format!("{id}-hint")>{hint}</span> })}
            <span class="field-error" id=format!("{id}-error")>{move || error.get()}</span>
        </div>
    }
    .into_any()
}

/// Marketing or utility, with the server's refusal under it.
#[component]
fn CategoryField(id: &'static str, error: Signal<Option<String>>) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id>"Category"</label>
            <select id=id name="category" aria-invalid=move || error.get().is_some().to_string() aria-describedby=error_id.clone()>
                <option value="marketing" selected>"Marketing"</option>
                <option value="utility">"Utility"</option>
            </select>
            <span class="field-error" id=error_id>{move || error.get()}</span>
        </div>
    }
}

const CALL_BUTTON_FIELDS: [&str; 10] = [
    "name",
    "language",
    "category",
    "body",
    "examples",
    "label",
    "target",
    "phone_number",
    "url",
    "ttl_minutes",
];

#[component]
fn CallButtonForm(action: FormAction<CreateCallButtonTemplate>) -> impl IntoView {
    let target = RwSignal::new(ButtonTarget::WhatsappCall);
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(action, form);
    let error =
        move |field: &'static str| Signal::derive(move || action.value().with(|v| refusal_of(v, field)));
    let target_error = error("target");
    let unless = move |shown: ButtonTarget| Signal::derive(move || target.get() != shown);
    let problem = move || {
        action
            .value()
            .with(|v| form_problem(v, &CALL_BUTTON_FIELDS))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let done = move || {
        action.value().with(created_line).map(|line| view! { <p class="ok" role="status">{line}</p> })
    };
    view! {
        <section class="card" aria-labelledby="new-call-button-heading">
            <h2 id="new-call-button-heading">"New call-button template"</h2>
            <ServerForm action node_ref=form attr:class="template-form" attr:aria-label="New call-button template">
                <TextField id="cb-name" label="Name" name="name" required=true placeholder="support_call"
                    hint="Lowercase letters, digits and underscores." error=error("name") />
                <div class="form-row">
                    <TextField id="cb-language" label="Language" name="language" value="en_US" error=error("language") />
                    <CategoryField id="cb-category" error=error("category") />
                </div>
                <TextField id="cb-body" label="Message" name="body" rows=3
                    placeholder=calling::templates::DEFAULT_CALL_BUTTON_BODY
                    hint="Leave blank to send the text shown. Variables: {{1}}, {{2}}, …" error=error("body") />
                <TextField id="cb-examples" label="Examples for the variables" name="examples" rows=2
                    hint="One per line, in order: WhatsApp's review needs them." error=error("examples") />
                <TextField id="cb-label" label="Button label" name="button[label]"
                    value=calling::templates::DEFAULT_LABEL
                    hint=format!("At most {} characters.", calling::templates::MAX_LABEL_CHARS)
                    error=error("label") />
                <div class="field">
                    <label for="cb-target">"What the button does"</label>
                    <select id="cb-target" name="button[target]" aria-describedby="cb-target-error"
                        aria-invalid=move || target_error.get().is_some().to_string()
                        on:change=move |ev| {
                            target.set(ButtonTarget::parse(&event_target_value(&ev)).unwrap_or(ButtonTarget::WhatsappCall));
                        }>
                        <option value="whatsapp_call" selected>"Calls you on WhatsApp"</option>
                        <option value="phone_number">"Dials a phone number"</option>
                        <option value="url">"Opens a web page"</option>
                    </select>
                    <span class="field-error" id="cb-target-error">{move || target_error.get()}</span>
                </div>
                // Every field is always sent; the button's target decides which the server reads.
                <TextField id="cb-ttl" label="Button works for (minutes)" name="button[ttl_minutes]" kind="number"
                    placeholder="WhatsApp's default" hint="1440 to 43200 minutes (1 to 30 days) after delivery."
                    error=error("ttl_minutes") hidden=unless(ButtonTarget::WhatsappCall) />
                <TextField id="cb-phone" label="Phone number to dial" name="button[phone_number]" kind="tel"
                    placeholder="+1 415 555 0100" error=error("phone_number") hidden=unless(ButtonTarget::PhoneNumber) />
                <TextField id="cb-url" label="Web page" name="button[url]" kind="url"
                    placeholder="https://example.com/support" error=error("url") hidden=unless(ButtonTarget::Url) />
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || action.pending().get()>
                        "Submit to WhatsApp"
                    </button>
                </div>
            </ServerForm>
            {problem}
            {done}
        </section>
    }
    .into_any()
}

const PERMISSION_FIELDS: [&str; 7] = ["name", "language", "category", "body", "examples", "header", "footer"];

#[component]
fn PermissionForm(action: FormAction<CreatePermissionTemplate>) -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(action, form);
    let error =
        move |field: &'static str| Signal::derive(move || action.value().with(|v| refusal_of(v, field)));
    let problem = move || {
        action
            .value()
            .with(|v| form_problem(v, &PERMISSION_FIELDS))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let done = move || {
        action.value().with(created_line).map(|line| view! { <p class="ok" role="status">{line}</p> })
    };
    view! {
        <section class="card" aria-labelledby="new-permission-heading">
            <h2 id="new-permission-heading">"New permission template"</h2>
            <ServerForm action node_ref=form attr:class="template-form" attr:aria-label="New permission template">
                <TextField id="pm-name" label="Name" name="name" required=true placeholder="may_we_call"
                    hint="Lowercase letters, digits and underscores." error=error("name") />
                <div class="form-row">
                    <TextField id="pm-language" label="Language" name="language" value="en_US" error=error("language") />
                    <CategoryField id="pm-category" error=error("category") />
                </div>
                <TextField id="pm-header" label="Header" name="header" placeholder="optional" error=error("header") />
                <TextField id="pm-body" label="Message" name="body" rows=3
                    placeholder="May we call you about your order {{1}}?"
                    hint="Required. Variables: {{1}}, {{2}}, …" error=error("body") />
                <TextField id="pm-examples" label="Examples for the variables" name="examples" rows=2
                    hint="One per line, in order: WhatsApp's review needs them." error=error("examples") />
                <TextField id="pm-footer" label="Footer" name="footer" placeholder="optional" error=error("footer") />
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || action.pending().get()>
                        "Submit to WhatsApp"
                    </button>
                </div>
            </ServerForm>
            {problem}
            {done}
        </section>
    }
    .into_any()
}

/// The send form's field names as the server names them, `vars.1`… aside.
const SEND_FIELDS: [&str; 5] = ["template_id", "to", "vars", "ttl_minutes", "payload"];

/// Send an approved template to a WhatsApp number: one input per body variable, and the
/// call button's lifetime and payload when it calls the business on WhatsApp.
#[component]
fn SendPanel(list: Vec<Template>, send: FormAction<SendTemplate>) -> impl IntoView {
    let sendable: Vec<Template> =
        list.into_iter().filter(|template| template.status == TemplateStatus::Approved).collect();
    if sendable.is_empty() {
        return view! {
            <section class="card" aria-labelledby="send-heading">
                <h2 id="send-heading">"Send a template"</h2>
                <p class="empty">"Nothing to send yet: only templates WhatsApp approved can be sent."</p>
            </section>
        }
        .into_any();
    }
    // Preselect the default call button (what a send without a name would use).
    let first = sendable
        .iter()
        .find(|t| t.is_default && t.kind == TemplateKind::CallButton)
        .or(sendable.first())
        .map(|t| t.template_id.clone())
        .unwrap_or_default();
    let options = sendable
        .iter()
        .map(|t| {
            let text = format!(
                "{} ({}{})",
                t.name,
                kind_text(t.kind).to_lowercase(),
                if t.is_default { ", default" } else { "" }
            );
            view! { <option value=t.template_id.clone() selected=t.template_id == first>{text}</option> }
        })
        .collect_view();
    let sendable = StoredValue::new(sendable);
    let selected = RwSignal::new(first);
    let chosen = Memo::new(move |_| {
        let id = selected.get();
        sendable.with_value(|list| list.iter().find(|t| t.template_id == id).cloned())
    });
    let variables = Memo::new(move |_| {
        chosen.with(|t| t.as_ref().map_or(0, |t| usize::try_from(t.body_variables).unwrap_or(0)))
    });
    let voice_call = Memo::new(move |_| {
        chosen.with(|t| t.as_ref().is_some_and(|t| t.target == Some(ButtonTarget::WhatsappCall)))
    });
    let to = RwSignal::new(String::new());
    let vars = RwSignal::new(Vec::<String>::new());
    let ttl = RwSignal::new(String::new());
    let payload = RwSignal::new(String::new());

    let error = move |field: String| Signal::derive(move || send.value().with(|v| refusal_of(v, &field)));
    let problem = move || {
        send.value()
            .with(|value| match value {
                // `vars.N` shows under its input.
                Some(Ok(FormReply::Invalid { field, .. })) if field.starts_with("vars.") => None,
                other => form_problem(other, &SEND_FIELDS),
            })
            .map(|message| view! { <p class="error" role="alert"><strong>"Not sent: "</strong>{message}</p> })
    };
    let done = move || {
        send.value().with(|value| match value {
            Some(Ok(FormReply::Done(sent))) => {
                let cost = if sent.cost_micros == 0 {
                    "Free: sandbox numbers cost nothing.".to_owned()
                } else {
                    format!("Charged {}.", format::money(sent.cost_micros))
                };
                Some(view! {
                    <p class="ok" role="status">
                        {format!("Sent {} to {}. {cost} ", sent.template_name, sent.to)}
                        <code>{sent.wa_message_id.clone()}</code>
                    </p>
                })
            }
            _ => None,
        })
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut values = vars.get_untracked();
        values.resize(variables.get_untracked(), String::new());
        let voice = voice_call.get_untracked();
        send.dispatch_json(&SendTemplate {
            form: TemplateSendForm {
                template_id: selected.get_untracked(),
                to: to.get_untracked(),
                vars: values,
                ttl_minutes: if voice { ttl.get_untracked() } else { String::new() },
                payload: if voice { payload.get_untracked() } else { String::new() },
            },
        });
    };
    let variable_inputs = move || {
        (1..=variables.get())
            .map(|n| {
                let id = format!("send-var-{n}");
                let error_id = format!("send-var-{n}-error");
                let message = error(format!("vars.{n}"));
                view! {
                    <div class="field">
                        <label for=id.clone()>{format!("Value for {{{{{n}}}}}")}</label>
                        <input type="text" id=id autocomplete="off" required
                            aria-invalid=move || message.get().is_some().to_string()
                            aria-describedby=error_id.clone()
                            on:input=move |ev| {
                                let value = event_target_value(&ev);
                                vars.update(|vars| {
                                    if vars.len() < n {
                                        vars.resize(n, String::new());
                                    }
                                    vars[n - 1] = value;
                                });
                            } />
                        <FieldError id=error_id message />
                    </div>
                }
            })
            .collect_view()
    };
    let template_error = error("template_id".to_owned());
    view! {
        <section class="card" aria-labelledby="send-heading">
            <h2 id="send-heading">"Send a template"</h2>
            <p class="muted">
                "Sandbox numbers send for free; real numbers are paid from the wallet. A permission request counts against WhatsApp's limit of requests per person."
            </p>
            <form class="template-form" aria-label="Send a template" on:submit=on_submit>
                <div class="form-row">
                    <div class="field">
                        <label for="send-template">"Template"</label>
                        <select id="send-template" aria-describedby="send-template-error"
                            aria-invalid=move || template_error.get().is_some().to_string()
                            on:change=move |ev| {
                                selected.set(event_target_value(&ev));
                                vars.set(Vec::new());
                            }>
                            {options}
                        </select>
                        <FieldError id="send-template-error".into() message=template_error />
                    </div>
                    <BoundField id="send-to" label="WhatsApp number" kind="tel" required=true
                        placeholder="+91 98765 43210" value=to error=error("to".to_owned()) />
                </div>
                <fieldset class="send-vars" aria-describedby="send-vars-error" hidden=move || variables.get() == 0>
                    <legend>"The message's variables"</legend>
                    {variable_inputs}
                    <FieldError id="send-vars-error".into() message=error("vars".to_owned()) />
                </fieldset>
                <div class="form-row" hidden=move || !voice_call.get()>
                    <BoundField id="send-ttl" label="Button works for (minutes)" kind="number"
                        placeholder="as the template says" value=ttl error=error("ttl_minutes".to_owned()) />
                    <BoundField id="send-payload" label="Button payload"
                        placeholder="optional; comes back with the call" value=payload error=error("payload".to_owned()) />
                </div>
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || send.pending().get()>"Send"</button>
                </div>
            </form>
            {problem}
            {done}
        </section>
    }
    .into_any()
}

/// A labelled input that writes what is typed into `value`, with the server's refusal under it.
#[component]
fn BoundField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input type=kind id=id placeholder=placeholder required=required autocomplete="off"
                aria-invalid=move || error.get().is_some().to_string() aria-describedby=error_id.clone()
                on:input=move |ev| value.set(event_target_value(&ev)) />
            <FieldError id=error_id message=error />
        </div>
    }
}

/// A `wa.me/call` link to one of the workspace's numbers, with an optional `biz_payload`, and
/// its QR code (drawn by the server, see `calling::deep_links`).
#[server(output = crate::json_text::JsonText)]
pub async fn make_deep_link(
    phone_number_id: String,
    payload: String,
) -> Result<FormReply<DeepLink>, ServerFnError> {
    use self::ssr::*;
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ViewSettings).await?;
    let numbers = calling::numbers::list(&services.db, &member.workspace.id).await.map_err(server_error)?;
    let number = numbers
        .into_iter()
        .find(|number| phone_number_id.is_empty() || number.phone_number_id == phone_number_id)
        .ok_or_else(|| server_error(calling::Error::NotFound { what: "WhatsApp number" }))?;
    let business = calling::phone::PhoneNumber::parse(&number.e164).map_err(server_error)?;
    reply(DeepLink::build(&business, Some(&payload)))
}

/// The call-link generator: pick a number, add a payload, get the link and its QR code.
#[component]
fn DeepLinkCard() -> impl IntoView {
    let make = FormAction::<MakeDeepLink>::new();
    let choices = ServerResource::new(|| (), |_| crate::api::call_filter_choices());
    let value = make.value();
    let payload_error = Signal::derive(move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Invalid { field, message })) if field == "payload" => Some(message.clone()),
            _ => None,
        })
    });
    let result = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(link))) => {
                let download = format!("data:image/svg+xml;charset=utf-8,{}", svg_data(&link.qr_svg));
                let url = link.url.clone();
                Some(
                    view! {
                        <div class="deep-link" data-deep-link=link.url.clone()>
                            <label>
                                "Link"
                                <input type="text" readonly value=link.url.clone() aria-label="Call link" />
                            </label>
                            <p class="muted">
                                <a href=url target="_blank" rel="noopener">"Open the link"</a>
                                " · "
                                <a href=download download="whatsapp-call-link.svg">"Download the QR code (SVG)"</a>
                                " · Deep links work in WhatsApp on phones, not on desktop."
                            </p>
                            <div class="qr" role="img" aria-label="QR code of the call link" inner_html=link.qr_svg.clone()></div>
                        </div>
                    }
                    .into_any(),
                )
            }
            Some(Err(err)) => Some(view! { <p class="error" role="alert">{error_text(err)}</p> }.into_any()),
            _ => None,
        })
    };
    view! {
        <section class="card" aria-labelledby="deep-link-heading">
            <h2 id="deep-link-heading">"Call link and QR code"</h2>
            <p class="muted">
                "A wa.me/call link starts a WhatsApp call to your number without a template. What you put in the payload comes back with the call (as its deep link payload), so you can tell which page or poster it came from."
            </p>
            <ServerForm action=make attr:class="admin-form inline-form">
                <Suspense>
                    {move || Suspend::new(async move {
                        let numbers = choices.await.map(|c| c.numbers).unwrap_or_default();
                        view! {
                            <label>
                                "Number"
                                <select name="phone_number_id">
                                    {numbers
                                        .into_iter()
                                        .map(|(id, display)| view! { <option value=id>{display}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                        }
                    })}
                </Suspense>
                <label>
                    "Payload (optional)"
                    <input type="text" name="payload" maxlength="256" placeholder="e.g. poster-lobby"
                        aria-describedby="deep-link-payload-error"
                        aria-invalid=move || payload_error.get().is_some().to_string() />
                </label>
                <FieldError id="deep-link-payload-error".to_owned() message=payload_error />
                <button class="button" type="submit" disabled=move || make.pending().get()>"Make the link"</button>
            </ServerForm>
            {result}
        </section>
    }
}

/// An SVG document percent-encoded for a `data:` URL.
fn svg_data(svg: &str) -> String {
    svg.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b' '
            | b'='
            | b'/'
            | b':'
            | b',' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
