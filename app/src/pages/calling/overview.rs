//! `/calling`: the header card (today's or the week's figures) and the latest calls.

use calling::overview::OverviewPeriod;
use leptos::prelude::*;
use leptos_meta::Title;

use super::CallsTable;
use crate::api::{OverviewCard, SimulateInboundCall, get_overview};
use crate::bridge::{PlaceCallForm, live_changes};
use crate::form_action::{FormAction, ServerForm};
use crate::format;
use crate::server_resource::ServerResource;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let period = RwSignal::new(OverviewPeriod::Today);
    let simulate = FormAction::<SimulateInboundCall>::new();
    let live = live_changes();
    let card = ServerResource::new(
        move || (period.get(), simulate.version().get(), live.get()),
        |(period, ..)| get_overview(period),
    );
    let period_button = move |value: OverviewPeriod| {
        view! {
            <button
                type="button"
                aria-pressed=move || (period.get() == value).to_string()
                on:click=move |_| period.set(value)
            >
                {value.label()}
            </button>
        }
    };
    view! {
        <Title text="Calling" />
        <div class="page-head">
            <h1>"Calling"</h1>
            <div class="segmented" role="group" aria-label="Period">
                {period_button(OverviewPeriod::Today)}
                {period_button(OverviewPeriod::SevenDays)}
            </div>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading figures…"</p> }>
            {move || Suspend::new(async move {
                match card.await {
                    Ok(card) => view! { <OverviewFigures card simulate /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Transition>
        <PlaceCallForm />
    }
}

#[component]
fn OverviewFigures(card: OverviewCard, simulate: FormAction<SimulateInboundCall>) -> impl IntoView {
    let sandbox = card.is_sandbox();
    let numbers = card
        .numbers
        .iter()
        .map(|number| {
            let badge = number.is_sandbox.then(|| view! { <span class="badge sandbox">"Sandbox"</span> });
            view! {
                <li class="number">
                    <span class="contact-number">{number.display.clone()}</span>
                    {badge}
                </li>
            }
        })
        .collect_view();
    let o = card.overview;
    let answer_rate = o.answer_rate_percent().map_or_else(|| "—".to_owned(), |p| format!("{p}%"));
    let average = o.average_duration_seconds().map_or_else(|| "—".to_owned(), format::duration);
    let heading = format!("{} · since {}", o.period.label(), format::utc_date(o.since));
    view! {
        <section class="card overview" aria-labelledby="overview-heading">
            <div class="card-head">
                <h2 id="overview-heading">{heading}</h2>
                <ul class="numbers" aria-label="WhatsApp numbers">{numbers}</ul>
            </div>
            <dl class="stats">
                <Stat label="Calls" value=o.calls.to_string() />
                <Stat label="Answered" value=o.answered.to_string() />
                <Stat label="Missed" value=o.missed.to_string() />
                <Stat label="Failed" value=o.failed.to_string() />
                <Stat label="Answer rate" value=answer_rate />
                <Stat label="Average duration" value=average />
                <Stat label="Spend" value=format::money(o.spend_micros) />
                <Stat label="Wallet" value=format::money(card.wallet_available_micros) />
            </dl>
            {if card.wallet_available_micros == 0 {
                Some(view! {
                    <p class="notice low-balance" role="note">
                        "The wallet is empty: outbound calls and template sends need funds. Inbound calls are always free."
                    </p>
                }.into_any())
            } else if card.low_balance {
                Some(view! {
                    <p class="notice low-balance" role="note">
                        "The wallet is running low: top up in Admin → Billing before outbound calls are refused. Inbound calls are always free."
                    </p>
                }.into_any())
            } else {
                None
            }}
        </section>
        {sandbox.then(|| view! { <SandboxPanel simulate /> })}
        <section class="card" aria-labelledby="latest-heading">
            <div class="card-head">
                <h2 id="latest-heading">"Latest calls"</h2>
                <a href="/calling/calls">"All calls →"</a>
            </div>
            <CallsTable calls=card.latest_calls />
        </section>
    }
}

#[component]
fn Stat(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="stat">
            <dt>{label}</dt>
            <dd data-stat=label>{value}</dd>
        </div>
    }
}

/// Sandbox only: ring the sandbox number from a simulated WhatsApp user.
#[component]
fn SandboxPanel(simulate: FormAction<SimulateInboundCall>) -> impl IntoView {
    let result = move || match simulate.value().get() {
        Some(Ok(call_id)) => {
            view! { <p class="ok" role="status">"Ringing: " <code>{call_id}</code></p> }.into_any()
        }
        Some(Err(err)) => {
            view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any()
        }
        None => ().into_any(),
    };
    view! {
        <section class="card sandbox-panel" aria-labelledby="sandbox-heading">
            <h2 id="sandbox-heading">"Sandbox: simulate an inbound call"</h2>
            <p class="muted">
                "A simulated WhatsApp user calls your sandbox number, exactly as a real customer would."
            </p>
            <ServerForm action=simulate attr:class="inline-form">
                <label>
                    "Caller number"
                    <input type="tel" name="from" value="+919876543210" required autocomplete="off" />
                </label>
                <label>
                    "Caller name"
                    <input type="text" name="name" value="Asha Rao" />
                </label>
                <label>
                    "Button payload"
                    <input type="text" name="cta_payload" placeholder="optional" />
                </label>
                <button class="button" type="submit" disabled=move || simulate.pending().get()>
                    "Ring the sandbox number"
                </button>
            </ServerForm>
            {result}
        </section>
    }
}
