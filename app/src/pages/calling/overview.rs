//! `/calling`: the header card (today's or the week's figures) and the latest calls.

use calling::overview::OverviewPeriod;
use leptos::prelude::*;
use leptos_meta::Title;

use super::CallsTable;
use crate::api::{OverviewCard, get_overview};
use crate::format;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let period = RwSignal::new(OverviewPeriod::Today);
    let card = Resource::new(move || period.get(), get_overview);
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
                    Ok(card) => view! { <OverviewFigures card /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewFigures(card: OverviewCard) -> impl IntoView {
    let o = card.overview;
    let answer_rate = o.answer_rate_percent().map_or_else(|| "—".to_owned(), |p| format!("{p}%"));
    let average = o.average_duration_seconds().map_or_else(|| "—".to_owned(), format::duration);
    let heading = format!("{} · since {}", o.period.label(), format::utc_date(o.since));
    view! {
        <section class="card overview" aria-labelledby="overview-heading">
            <h2 id="overview-heading">{heading}</h2>
            <dl class="stats">
                <Stat label="Calls" value=o.calls.to_string() />
                <Stat label="Answered" value=o.answered.to_string() />
                <Stat label="Missed" value=o.missed.to_string() />
                <Stat label="Failed" value=o.failed.to_string() />
                <Stat label="Answer rate" value=answer_rate />
                <Stat label="Average duration" value=average />
                <Stat label="Spend" value=format::money(o.spend_micros) />
            </dl>
            {card.workspace.is_none().then(|| view! {
                <p class="muted">"No workspace yet: connect a WhatsApp number to start taking calls."</p>
            })}
        </section>
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
