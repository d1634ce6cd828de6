//! `/calling/calls`: the call history.

use calling::calls::{CallSummary, Direction};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::list_calls;
use crate::format;

#[component]
pub fn CallsPage() -> impl IntoView {
    let calls = Resource::new(|| (), |_| list_calls(100));
    view! {
        <Title text="Calls" />
        <div class="page-head">
            <h1>"Calls"</h1>
        </div>
        <section class="card">
            <Transition fallback=|| view! { <p class="muted">"Loading calls…"</p> }>
                {move || Suspend::new(async move {
                    match calls.await {
                        Ok(calls) => view! { <CallsTable calls /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A table of calls, or a friendly empty state.
#[component]
pub fn CallsTable(calls: Vec<CallSummary>) -> impl IntoView {
    if calls.is_empty() {
        return view! { <p class="empty">"No calls yet. Calls to and from your WhatsApp numbers appear here."</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="calls">
                <thead>
                    <tr>
                        <th scope="col">"Contact"</th>
                        <th scope="col">"Direction"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col" class="num">"Duration"</th>
                        <th scope="col" class="num">"Cost"</th>
                    </tr>
                </thead>
                <tbody>
                    {calls
                        .into_iter()
                        .map(|call| {
                            let direction = match call.direction {
                                Direction::UserInitiated => "Inbound",
                                Direction::BusinessInitiated => "Outbound",
                            };
                            view! {
                                <tr>
                                    <td>
                                        <span class="contact-name">{call.contact_name.clone().unwrap_or_default()}</span>
                                        " "
                                        <span class="contact-number">{call.contact_number}</span>
                                    </td>
                                    <td>{direction}</td>
                                    <td>
                                        <span class=format!("badge status-{}", call.status.as_str())>{call.status.label()}</span>
                                    </td>
                                    <td>{format::utc_timestamp(call.started_at)}</td>
                                    <td class="num">{call.duration_seconds.map(format::duration).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num">{format::money(call.cost_micros)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
