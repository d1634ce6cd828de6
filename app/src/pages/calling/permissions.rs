//! `/calling/permissions`: may we call this person? Look a number up (permission, expiry,
//! Meta's quotas, and when a call or a new request would next be allowed), and see everyone
//! who currently allows calls.

use calling::permissions::{PermissionLookup, PermissionStatus, Refusal};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{error_text, list_permissions, lookup_permission};
use crate::format;
use crate::server_resource::ServerResource;

fn status_text(status: PermissionStatus) -> String {
    match status {
        PermissionStatus::NoPermission => "No permission".into(),
        PermissionStatus::Temporary { expires_at } => {
            format!("Allowed until {}", format::utc_timestamp(expires_at))
        }
        PermissionStatus::Permanent => "Allowed permanently".into(),
    }
}

fn verdict(refusal: Option<Refusal>, ok: &'static str) -> String {
    refusal.map_or_else(|| ok.to_owned(), |refusal| refusal.message())
}

#[component]
pub fn PermissionsPage() -> impl IntoView {
    let query = use_query_map();
    let phone = move || query.with(|q| q.get("phone").map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()));
    let live = crate::bridge::live_changes();
    let lookup = ServerResource::new(
        move || (phone(), live.get()),
        |(phone, _)| async move {
            match phone {
                Some(phone) => lookup_permission(phone).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let granted = ServerResource::new(move || live.get(), |_| list_permissions());
    view! {
        <Title text="Permissions" />
        <div class="page-head">
            <h1>"Permissions"</h1>
        </div>
        <p class="lead">
            "WhatsApp lets a business call someone only after they allow it. Look up a number to see where it stands and what WhatsApp would say to a call or a permission request right now."
        </p>
        <section class="card" aria-labelledby="lookup-heading">
            <h2 id="lookup-heading">"Look up a number"</h2>
            <Form method="GET" action="" attr:class="inline-form" attr:aria-label="Look up a number">
                <label>
                    "WhatsApp number"
                    <input type="tel" name="phone" required placeholder="+91 98765 43210"
                        prop:value=move || phone().unwrap_or_default() />
                </label>
                <button class="button" type="submit">"Look up"</button>
            </Form>
            <Transition fallback=|| view! { <p class="muted">"Looking up…"</p> }>
                {move || Suspend::new(async move {
                    match lookup.await {
                        Ok(Some(found)) => view! { <LookupResult found /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(err) => view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-labelledby="granted-heading">
            <h2 id="granted-heading">"Who allows calls"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match granted.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">"Nobody has allowed calls yet. Send a permission request from Templates."</p>
                        }.into_any(),
                        Ok(list) => view! { <GrantedTable list /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LookupResult(found: PermissionLookup) -> impl IntoView {
    let view_ = found.view;
    view! {
        <dl class="facts lookup" aria-label="Permission">
            <div><dt>"Number"</dt><dd>{found.contact_number}</dd></div>
            <div><dt>"Permission"</dt><dd data-field="status">{status_text(view_.status)}</dd></div>
            <div><dt>"A call now"</dt><dd data-field="call">{verdict(found.call_refusal, "Would go through")}</dd></div>
            <div><dt>"A permission request now"</dt><dd data-field="request">{verdict(found.request_refusal, "Can be sent")}</dd></div>
            <div><dt>"Requests in the last 24 h / 7 days"</dt><dd>{format!("{} / {}", view_.requests_last_day, view_.requests_last_week)}</dd></div>
            <div><dt>"Connected calls in the last 24 h"</dt><dd>{view_.connected_calls_last_day}</dd></div>
            <div><dt>"Unanswered calls in a row"</dt><dd>{view_.consecutive_unanswered_calls}</dd></div>
        </dl>
    }
}

#[component]
fn GrantedTable(list: Vec<PermissionLookup>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="permissions">
                <thead>
                    <tr>
                        <th scope="col">"Number"</th>
                        <th scope="col">"Permission"</th>
                        <th scope="col">"A call now"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|found| {
                            let href = format!("/calling/permissions?phone={}", found.contact_number.replace('+', "%2B"));
                            view! {
                                <tr>
                                    <td><a href=href class="contact-number">{found.contact_number.clone()}</a></td>
                                    <td>{status_text(found.view.status)}</td>
                                    <td>{verdict(found.call_refusal, "Would go through")}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
