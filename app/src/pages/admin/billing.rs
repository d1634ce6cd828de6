//! The Billing section, in two pages. `/admin/billing`: the wallet (available and held, with a
//! warning below the workspace's low-balance threshold), recording a top-up (the "manual /
//! sandbox" payment provider), the subscription (status, plan, period end, days left), the
//! threshold, and the expenses log with kind and date filters and a "Download CSV" link that
//! honours them. `/admin/billing/rates`: the rate card (the current version's prices, editing it
//! into a new version, every version).
//!
//! The rules are `calling::billing`'s and the roles the REST API's (`/api/v1/app/billing`):
//! `SeeBilling` reads (viewers read-only; agents see no billing), `TopUp` records top-ups and
//! sets the threshold, `ManageBilling` (owners) changes the subscription and publishes rates;
//! every change is audited as the REST API audits it.

use calling::billing::forms::{CountryRateForm, ExpenseFilter, RateCardForm, RateForm, StatementKind};
use calling::billing::{Currency, Micros, Money};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{FieldError, FormReply, form_problem, refusal_of};
use crate::form_action::{FormAction, ServerForm};
use crate::format;
use crate::pages::SectionHead;
use crate::server_resource::ServerResource;

/// The wallet, the subscription and what the signed-in member may do about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingView {
    pub currency: Currency,
    pub balance: Micros,
    pub held: Micros,
    pub available: Micros,
    pub low_balance_threshold: Micros,
    pub low_balance: bool,
    pub subscription: Option<SubscriptionView>,
    /// May record top-ups and set the threshold (`TopUp`).
    pub can_top_up: bool,
    /// May change the subscription and publish rates (`ManageBilling`).
    pub can_manage: bool,
}

/// The subscription as it stands now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub plan: String,
    /// As set (`active`, `past_due`, `expired`).
    pub status: String,
    /// As it stands now: an active subscription past its end is expired.
    pub effective_status: String,
    pub current_period_end: i64,
    /// Whole days until the period ends, rounded up; 0 once it has.
    pub days_left: i64,
}

/// One price of a rate card version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLine {
    /// What it prices, in words.
    pub label: String,
    /// Per 6-second pulse or per message.
    pub unit: String,
    pub meta: Micros,
    pub billable: Micros,
}

/// One published version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateVersion {
    pub version: i64,
    pub created_at: i64,
    /// Who published it, in words (`None`: the defaults).
    pub by: Option<String>,
    pub note: Option<String>,
    pub call_estimate_minutes: i64,
    pub lines: Vec<RateLine>,
}

/// The rate card: the current version (also as the edit form starts), and every version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateCards {
    pub currency: Currency,
    pub current: RateVersion,
    pub form: RateCardForm,
    /// Newest first, the current one included.
    pub versions: Vec<RateVersion>,
    pub can_manage: bool,
}

/// One line of the expenses log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpenseRow {
    pub at: i64,
    pub kind: String,
    /// Signed: money in is positive.
    pub amount: Micros,
    /// What caused it: the call and its callee, the message, the top-up, the reason.
    pub call_id: Option<String>,
    pub callee: Option<String>,
    pub message_id: Option<String>,
    pub top_up_id: Option<String>,
    pub reason: Option<String>,
}

/// The expenses of a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expenses {
    pub currency: Currency,
    pub from: i64,
    pub to: i64,
    pub rows: Vec<ExpenseRow>,
}

/// The wallet and the subscription.
#[server(output = crate::json_text::JsonText)]
pub async fn load_billing() -> Result<BillingView, ServerFnError> {
    use crate::api::ssr::*;
    use calling::billing::{subscription, threshold};
    let services = services()?;
    let member = member(&services, Permission::SeeBilling).await?;
    let ws = &member.workspace.id;
    let balance = threshold::balance(&services.db, ws).await.map_err(server_error)?;
    let now = services.clock.now();
    let subscription =
        subscription::get(&services.db, ws).await.map_err(server_error)?.map(|s| SubscriptionView {
            days_left: s.days_left(now),
            effective_status: s.effective_status(now).as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            plan: s.plan,
            current_period_end: s.current_period_end,
        });
    Ok(BillingView {
        currency: balance.currency,
        balance: balance.balance,
        held: balance.held,
        available: balance.available,
        low_balance_threshold: balance.low_balance_threshold,
        low_balance: balance.low_balance,
        subscription,
        can_top_up: member.role.allows(Permission::TopUp),
        can_manage: member.role.allows(Permission::ManageBilling),
    })
}

#[cfg(feature = "ssr")]
fn rate_version(
    card: &calling::billing::RateCard,
    names: &std::collections::HashMap<String, String>,
) -> RateVersion {
    use calling::billing::MessageKind;
    let per_pulse = "per 6-second pulse";
    let mut lines = vec![RateLine {
        label: "Calls, any other country".to_owned(),
        unit: per_pulse.to_owned(),
        meta: card.default_call.meta,
        billable: card.default_call.billable,
    }];
    lines.extend(card.countries.iter().map(|(country, rate)| RateLine {
        label: format!("Calls to {country}"),
        unit: per_pulse.to_owned(),
        meta: rate.meta,
        billable: rate.billable,
    }));
    lines.extend(MessageKind::ALL.iter().map(|kind| {
        let rate = card.messages.get(*kind);
        RateLine {
            label: message_label(*kind).to_owned(),
            unit: "per message".to_owned(),
            meta: rate.meta,
            billable: rate.billable,
        }
    }));
    RateVersion {
        version: card.version,
        created_at: card.created_at,
        by: card.created_by.as_ref().map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone())),
        note: card.note.clone(),
        call_estimate_minutes: card.call_estimate_minutes,
        lines,
    }
}

/// The message lines of a rate card (`MessageKind::as_str`) and how they read.
const MESSAGE_LINES: [(&str, &str); 4] = [
    ("text", "Text messages"),
    ("media", "Media messages"),
    ("template", "Template messages"),
    ("calling_template", "Call-button and permission templates"),
];

#[cfg(feature = "ssr")]
fn message_label(kind: calling::billing::MessageKind) -> &'static str {
    MESSAGE_LINES.iter().find(|(line, _)| *line == kind.as_str()).map_or("Messages", |(_, label)| label)
}

/// The current rate card and every version.
#[server(output = crate::json_text::JsonText)]
pub async fn load_rate_cards() -> Result<RateCards, ServerFnError> {
    use crate::api::ssr::*;
    use calling::billing::rates;
    let services = services()?;
    let member = member(&services, Permission::SeeBilling).await?;
    let ws = &member.workspace.id;
    let current = rates::current(&services.db, ws, services.clock.now()).await.map_err(server_error)?;
    let versions = rates::versions(&services.db, ws).await.map_err(server_error)?;
    let names = calling::accounts::users::members(&services.db, ws)
        .await
        .map_err(server_error)?
        .into_iter()
        .map(|m| (m.user_id, m.display_name))
        .collect();
    Ok(RateCards {
        currency: current.currency.clone(),
        form: current.to_form(),
        current: rate_version(&current, &names),
        versions: versions.iter().map(|card| rate_version(card, &names)).collect(),
        can_manage: member.role.allows(Permission::ManageBilling),
    })
}

/// The expenses log lines the filter selects (default: the last 30 days).
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn list_expenses(filter: ExpenseFilter) -> Result<Expenses, ServerFnError> {
    use crate::api::ssr::*;
    use calling::billing::{statement, wallet};
    let services = services()?;
    let member = member(&services, Permission::SeeBilling).await?;
    let ws = &member.workspace.id;
    let now = services.clock.now();
    let (from, to) = filter.range(now);
    let lines = statement::lines(&services.db, ws, &filter, now).await.map_err(server_error)?;
    let currency = wallet::get(&services.db, ws).await.map_err(server_error)?.currency;
    let rows = lines
        .into_iter()
        .rev() // newest first, as people read a statement on screen
        .map(|line| ExpenseRow {
            at: line.at,
            kind: line.kind,
            amount: line.amount,
            call_id: line.cause.call_id,
            callee: line.callee,
            message_id: line.cause.message_id,
            top_up_id: line.cause.top_up_id,
            reason: line.cause.reason,
        })
        .collect();
    Ok(Expenses { currency, from, to, rows })
}

/// A refused field as the form shows it; anything else is the server function's error.
#[cfg(feature = "ssr")]
fn refused<T>(err: calling::Error) -> Result<FormReply<T>, ServerFnError> {
    match err {
        calling::Error::Validation { field, message } => Ok(FormReply::Invalid { field, message }),
        other => Err(crate::api::ssr::server_error(other)),
    }
}

/// What recording a top-up did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpDone {
    pub amount: Money,
    pub reference: String,
    /// `false`: that reference was recorded before and nothing was added.
    pub credited: bool,
    pub available: Money,
}

/// Records money received outside Switchboard (the manual provider), as
/// `POST /api/v1/app/billing/top-ups`.
#[server(output = crate::json_text::JsonText)]
pub async fn record_top_up(
    amount: String,
    reference: String,
    note: String,
) -> Result<FormReply<TopUpDone>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    use calling::billing::manual::{self, ManualTopUp};
    let services = services()?;
    let member = member(&services, Permission::TopUp).await?;
    let top_up = match ManualTopUp::parse(&amount, &reference, &note) {
        Ok(top_up) => top_up,
        Err(err) => return refused(err),
    };
    let ws = &member.workspace.id;
    let recorded =
        manual::record_top_up(&services.db, ws, &top_up, Some(&member.user_id), services.clock.now())
            .await
            .map_err(server_error)?;
    if recorded.credited {
        let details = manual::top_up_details(&top_up, &recorded);
        record(&services, &member, "billing.top_up", &recorded.top_up_id, details).await?;
    }
    let currency = recorded.wallet.currency.clone();
    Ok(FormReply::Done(TopUpDone {
        amount: Money::new(top_up.amount, currency.clone()),
        reference: top_up.reference,
        credited: recorded.credited,
        available: Money::new(recorded.wallet.available(), currency),
    }))
}

/// Sets the low-balance threshold, as `PUT /api/v1/app/billing/low-balance-threshold`.
#[server(output = crate::json_text::JsonText)]
pub async fn set_low_balance_threshold(threshold: String) -> Result<FormReply<Micros>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    use calling::billing::threshold as low;
    let services = services()?;
    let member = member(&services, Permission::TopUp).await?;
    let wanted = match low::parse(&threshold) {
        Ok(wanted) => wanted,
        Err(err) => return refused(err),
    };
    let ws = &member.workspace.id;
    let (set, before) =
        low::set(&services.db, ws, wanted, services.clock.now()).await.map_err(server_error)?;
    if set != before {
        let target = format!("workspace:{ws}");
        record(
            &services,
            &member,
            "billing.low_balance_threshold_updated",
            &target,
            low::change_details(before, set),
        )
        .await?;
    }
    Ok(FormReply::Done(set))
}

/// Sets the subscription by hand (owners), as `PUT /api/v1/app/billing/subscription`.
#[server(output = crate::json_text::JsonText)]
pub async fn update_subscription(
    plan: String,
    status: String,
    period_end: String,
) -> Result<FormReply<String>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    use calling::billing::manual::{self, SubscriptionChange};
    let services = services()?;
    let member = member(&services, Permission::ManageBilling).await?;
    let change = match SubscriptionChange::parse(&plan, &status, &period_end) {
        Ok(change) => change,
        Err(err) => return refused(err),
    };
    let ws = &member.workspace.id;
    let (after, before) = manual::set_subscription(&services.db, ws, &change, services.clock.now())
        .await
        .map_err(server_error)?;
    let details = manual::subscription_details(before.as_ref(), &after);
    record(&services, &member, "billing.subscription_updated", &format!("workspace:{ws}"), details).await?;
    Ok(FormReply::Done(after.plan))
}

/// Publishes the edited rate card as the next version (owners), as
/// `PUT /api/v1/app/billing/rate-card`; the reply is the new version number.
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn publish_rate_card(form: RateCardForm) -> Result<FormReply<i64>, ServerFnError> {
    use super::ssr::record;
    use crate::api::ssr::*;
    use calling::billing::rates::{self, NewRateCard};
    let services = services()?;
    let member = member(&services, Permission::ManageBilling).await?;
    let card = match NewRateCard::from_form(&form) {
        Ok(card) => card,
        Err(err) => return refused(err),
    };
    let ws = &member.workspace.id;
    let published = rates::publish(&services.db, ws, &card, Some(&member.user_id), services.clock.now())
        .await
        .map_err(server_error)?;
    record(
        &services,
        &member,
        "billing.rate_card_published",
        &published.id,
        rates::published_details(&published),
    )
    .await?;
    Ok(FormReply::Done(published.version))
}

/// An action's version as of its last successful reply; refusals leave it as it was.
fn saved_version(
    succeeded: impl Fn() -> bool + Send + Sync + 'static,
    version: RwSignal<usize>,
) -> Memo<usize> {
    Memo::new(
        move |before: Option<&usize>| {
            if succeeded() { version.get() } else { before.copied().unwrap_or(0) }
        },
    )
}

fn is_done<T>(value: &Option<Result<FormReply<T>, ServerFnError>>) -> bool {
    matches!(value, Some(Ok(FormReply::Done(_))))
}

fn money(amount: Micros, currency: &Currency) -> String {
    Money::new(amount, currency.clone()).to_string()
}

/// The Billing section's two pages, each its own lazy route (so each loads only its own code).
const BILLING_PAGES: [(&str, &str); 2] =
    [("/admin/billing", "Wallet and spending"), ("/admin/billing/rates", "Rates")];

const BILLING_LEAD: &str = concat!(
    "Outbound calls and template sends are paid from the wallet at the rate card's prices; answering calls is always free. ",
    "Every paid action first checks the subscription and the balance, before anything is sent to WhatsApp."
);

/// `/admin/billing`: the wallet, the subscription, top-ups and the expenses.
#[component]
pub fn BillingPage() -> impl IntoView {
    let top_up = FormAction::<RecordTopUp>::new();
    let set_threshold = FormAction::<SetLowBalanceThreshold>::new();
    let update = FormAction::<UpdateSubscription>::new();
    // Refetched after a change only: a refused field rebuilds nothing, so what was typed stays.
    let topped_up = saved_version(move || top_up.value().with(is_done), top_up.version());
    let threshold_set = saved_version(move || set_threshold.value().with(is_done), set_threshold.version());
    let subscription_set = saved_version(move || update.value().with(is_done), update.version());
    let billing = ServerResource::new(
        move || (topped_up.get(), threshold_set.get(), subscription_set.get()),
        |_| load_billing(),
    );
    view! {
        <SectionHead title="Billing" lead=BILLING_LEAD pages=&BILLING_PAGES />
        <Transition fallback=|| view! { <p class="muted">"Loading billing…"</p> }>
            {move || Suspend::new(async move {
                match billing.await {
                    Ok(view) => view! { <WalletCard view=view.clone() /> <SubscriptionCard view update /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Transition>
        // The forms wait for the permission only and are never rebuilt by a refetch, so what was
        // typed survives a refused field.
        <Suspense>
            {move || Suspend::new(async move {
                match billing.await {
                    Ok(view) if view.can_top_up => view! { <TopUpForm top_up /> <ThresholdForm view set_threshold /> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
        <ExpensesSection refresh=topped_up.into() />
    }
}

/// `/admin/billing/rates`: the rate card in force, its history, and publishing a new one.
#[component]
pub fn RatesPage() -> impl IntoView {
    let publish = FormAction::<PublishRateCard>::new();
    let published = saved_version(move || publish.value().with(is_done), publish.version());
    let cards = ServerResource::new(move || published.get(), |_| load_rate_cards());
    view! {
        <SectionHead title="Billing" lead=BILLING_LEAD pages=&BILLING_PAGES />
        <Transition fallback=|| view! { <p class="muted">"Loading the rate card…"</p> }>
            {move || Suspend::new(async move {
                match cards.await {
                    Ok(cards) => view! { <RateCardSection cards publish /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn WalletCard(view: BillingView) -> impl IntoView {
    let currency = view.currency.clone();
    let warning = view.low_balance.then(|| {
        view! {
            <p class="notice low-balance" role="alert">
                <strong>"Low balance. "</strong>
                {format!(
                    "{} is available, below the warning threshold of {}. Top up so outbound calls and sends are not refused.",
                    money(view.available, &currency),
                    money(view.low_balance_threshold, &currency),
                )}
            </p>
        }
    });
    let role_note = (!view.can_top_up).then(|| {
        view! { <p class="notice" role="note">"Your role can see billing but not change it. Ask an owner or admin to top up."</p> }
    });
    view! {
        <section class="card wallet" aria-labelledby="wallet-heading">
            <h2 id="wallet-heading">"Wallet"</h2>
            <dl class="facts">
                <div>
                    <dt>"Available"</dt>
                    <dd class="wallet-available">{money(view.available, &currency)}</dd>
                </div>
                <div>
                    <dt>"Held for calls under way"</dt>
                    <dd class="wallet-held">{money(view.held, &currency)}</dd>
                </div>
                <div>
                    <dt>"Balance"</dt>
                    <dd>{money(view.balance, &currency)}</dd>
                </div>
                <div>
                    <dt>"Low-balance warning below"</dt>
                    <dd class="wallet-threshold">{money(view.low_balance_threshold, &currency)}</dd>
                </div>
            </dl>
            {warning}
            {role_note}
        </section>
    }
    .into_any()
}

#[component]
fn SubscriptionCard(view: BillingView, update: FormAction<UpdateSubscription>) -> impl IntoView {
    let facts = match &view.subscription {
        Some(s) => view! {
            <dl class="facts">
                <div><dt>"Status"</dt><dd><span class=format!("badge subscription-{}", s.effective_status)>{s.effective_status.replace('_', " ")}</span></dd></div>
                <div><dt>"Plan"</dt><dd class="subscription-plan">{s.plan.clone()}</dd></div>
                <div><dt>"Period ends"</dt><dd>{format::utc_timestamp(s.current_period_end)}</dd></div>
                <div><dt>"Days left"</dt><dd class="subscription-days">{s.days_left.to_string()}</dd></div>
            </dl>
        }
        .into_any(),
        None => view! {
            <p class="notice" role="note">"No subscription: outbound calls and sends are refused until one is set. Answering calls keeps working."</p>
        }
        .into_any(),
    };
    let expired = view.subscription.as_ref().is_some_and(|s| s.effective_status == "expired").then(|| {
        view! {
            <p class="notice" role="alert">"The subscription has expired: outbound calls and sends are refused. Answering calls keeps working."</p>
        }
    });
    let editor =
        view.can_manage.then(|| view! { <SubscriptionForm current=view.subscription.clone() update /> });
    view! {
        <section class="card" aria-labelledby="subscription-heading">
            <h2 id="subscription-heading">"Subscription"</h2>
            {facts}
            {expired}
            {editor}
        </section>
    }
    .into_any()
}

#[component]
fn SubscriptionForm(
    current: Option<SubscriptionView>,
    update: FormAction<UpdateSubscription>,
) -> impl IntoView {
    let value = update.value();
    let plan_error = Signal::derive(move || value.with(|v| refusal_of(v, "plan")));
    let status_error = Signal::derive(move || value.with(|v| refusal_of(v, "status")));
    let end_error = Signal::derive(move || value.with(|v| refusal_of(v, "current_period_end")));
    let problem = move || {
        value
            .with(|v| form_problem(v, &["plan", "status", "current_period_end"]))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let saved = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(plan))) => {
                Some(view! { <p class="ok" role="status">{format!("Saved the {plan} subscription.")}</p> })
            }
            _ => None,
        })
    };
    let plan = current.as_ref().map_or_else(|| "usage".to_owned(), |s| s.plan.clone());
    let status = current.as_ref().map_or_else(|| "active".to_owned(), |s| s.status.clone());
    let end = current.as_ref().map(|s| format::utc_date(s.current_period_end)).unwrap_or_default();
    view! {
        <ServerForm action=update attr:class="admin-form">
            <div class="field">
                <label for="subscription-plan">"Plan"</label>
                <input id="subscription-plan" type="text" name="plan" required maxlength="64" value=plan
                    aria-describedby="subscription-plan-error" aria-invalid=move || plan_error.get().is_some().to_string() />
                <FieldError id="subscription-plan-error" message=plan_error />
            </div>
            <div class="field">
                <label for="subscription-status">"Status"</label>
                <select id="subscription-status" name="status" aria-describedby="subscription-status-error">
                    {["active", "past_due", "expired"]
                        .into_iter()
                        .map(|option| view! { <option value=option selected=option == status>{option.replace('_', " ")}</option> })
                        .collect_view()}
                </select>
                <FieldError id="subscription-status-error" message=status_error />
            </div>
            <div class="field">
                <label for="subscription-end">"Period ends (UTC)"</label>
                <input id="subscription-end" type="date" name="period_end" required value=end
                    aria-describedby="subscription-end-error" aria-invalid=move || end_error.get().is_some().to_string() />
                <FieldError id="subscription-end-error" message=end_error />
            </div>
            <button class="button" type="submit" disabled=move || update.pending().get()>
                {move || if update.pending().get() { "Saving…" } else { "Save subscription" }}
            </button>
        </ServerForm>
        {problem}
        {saved}
    }
    .into_any()
}

#[component]
fn TopUpForm(top_up: FormAction<RecordTopUp>) -> impl IntoView {
    let value = top_up.value();
    let amount_error = Signal::derive(move || value.with(|v| refusal_of(v, "amount")));
    let reference_error = Signal::derive(move || value.with(|v| refusal_of(v, "reference")));
    let note_error = Signal::derive(move || value.with(|v| refusal_of(v, "note")));
    let problem = move || {
        value
            .with(|v| form_problem(v, &["amount", "reference", "note"]))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let done = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(done))) if done.credited => Some(view! {
                <p class="ok" role="status">{format!("Added {} ({}). {} is available now.", done.amount, done.reference, done.available)}</p>
            }.into_any()),
            Some(Ok(FormReply::Done(done))) => Some(view! {
                <p class="notice" role="status">{format!("{} was recorded before; nothing was added.", done.reference)}</p>
            }.into_any()),
            _ => None,
        })
    };
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move || {
        if value.with(|v| matches!(v, Some(Ok(FormReply::Done(_)))))
            && let Some(form) = form.get_untracked()
        {
            form.reset();
        }
    });
    view! {
        <section class="card" aria-labelledby="top-up-heading">
            <h2 id="top-up-heading">"Record a top-up"</h2>
            <p class="muted">
                "Payments arrive outside Switchboard (a bank transfer, an invoice paid; play money on a sandbox install). "
                "Record each one with its reference: the same reference is only ever added once."
            </p>
            <ServerForm action=top_up node_ref=form attr:class="admin-form">
                <div class="field">
                    <label for="top-up-amount">"Amount"</label>
                    <input id="top-up-amount" type="text" inputmode="decimal" name="amount" required placeholder="25.00"
                        aria-describedby="top-up-amount-error" aria-invalid=move || amount_error.get().is_some().to_string() />
                    <FieldError id="top-up-amount-error" message=amount_error />
                </div>
                <div class="field">
                    <label for="top-up-reference">"Reference"</label>
                    <input id="top-up-reference" type="text" name="reference" maxlength="64" placeholder="Bank transfer reference"
                        aria-describedby="top-up-reference-error" aria-invalid=move || reference_error.get().is_some().to_string() />
                    <FieldError id="top-up-reference-error" message=reference_error />
                </div>
                <div class="field">
                    <label for="top-up-note">"Note"</label>
                    <input id="top-up-note" type="text" name="note" maxlength="200"
                        aria-describedby="top-up-note-error" aria-invalid=move || note_error.get().is_some().to_string() />
                    <FieldError id="top-up-note-error" message=note_error />
                </div>
                <button class="button" type="submit" disabled=move || top_up.pending().get()>
                    {move || if top_up.pending().get() { "Recording…" } else { "Record top-up" }}
                </button>
            </ServerForm>
            {problem}
            {done}
        </section>
    }
    .into_any()
}

#[component]
fn ThresholdForm(view: BillingView, set_threshold: FormAction<SetLowBalanceThreshold>) -> impl IntoView {
    let value = set_threshold.value();
    let threshold_error = Signal::derive(move || value.with(|v| refusal_of(v, "threshold")));
    let problem = move || {
        value
            .with(|v| form_problem(v, &["threshold"]))
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    };
    let currency = view.currency.clone();
    let saved = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(set))) => Some(view! {
                <p class="ok" role="status">{format!("Saved: the wallet warns below {}.", money(*set, &currency))}</p>
            }),
            _ => None,
        })
    };
    view! {
        <section class="card" aria-labelledby="threshold-heading">
            <h2 id="threshold-heading">"Low-balance warning"</h2>
            <p class="muted">"The wallet and the calling overview warn when less than this is available. 0 turns the warning off."</p>
            <ServerForm action=set_threshold attr:class="admin-form">
                <div class="field">
                    <label for="threshold-amount">{format!("Warn below ({})", view.currency)}</label>
                    <input id="threshold-amount" type="text" inputmode="decimal" name="threshold" required
                        value=view.low_balance_threshold.to_string()
                        aria-describedby="threshold-amount-error" aria-invalid=move || threshold_error.get().is_some().to_string() />
                    <FieldError id="threshold-amount-error" message=threshold_error />
                </div>
                <button class="button" type="submit" disabled=move || set_threshold.pending().get()>
                    {move || if set_threshold.pending().get() { "Saving…" } else { "Save threshold" }}
                </button>
            </ServerForm>
            {problem}
            {saved}
        </section>
    }
    .into_any()
}

#[component]
fn RateTable(version: RateVersion, currency: Currency) -> impl IntoView {
    let rows = version
        .lines
        .into_iter()
        .map(|line| {
            view! {
                <tr data-rate=line.label.clone()>
                    <th scope="row">{line.label.clone()}</th>
                    <td class="muted">{line.unit.clone()}</td>
                    <td class="amount">{line.meta.to_string()}</td>
                    <td class="amount rate-billable">{line.billable.to_string()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="rates">
                <thead>
                    <tr>
                        <th scope="col">"Line"</th>
                        <th scope="col">"Unit"</th>
                        <th scope="col">{format!("Meta's cost ({currency})")}</th>
                        <th scope="col">{format!("Billable ({currency})")}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn RateCardSection(cards: RateCards, publish: FormAction<PublishRateCard>) -> impl IntoView {
    let current = cards.current.clone();
    let heading = format!("Rate card · version {}", current.version);
    let published = format!(
        "Published {}{}. Calls hold {} minutes' worth when they start.",
        format::utc_timestamp(current.created_at),
        current.by.as_ref().map(|by| format!(" by {by}")).unwrap_or_default(),
        current.call_estimate_minutes,
    );
    let versions = cards
        .versions
        .iter()
        .map(|version| {
            view! {
                <li data-version=version.version.to_string()>
                    <strong>{format!("Version {}", version.version)}</strong>
                    {format!(
                        " · {}{}{}",
                        format::utc_timestamp(version.created_at),
                        version.by.as_ref().map(|by| format!(" · {by}")).unwrap_or_default(),
                        version.note.as_ref().map(|note| format!(" · {note}")).unwrap_or_default(),
                    )}
                </li>
            }
        })
        .collect_view();
    let editor = cards.can_manage.then(|| view! { <RateCardEditor form=cards.form.clone() publish /> });
    view! {
        <section class="card" aria-labelledby="rates-heading">
            <h2 id="rates-heading">{heading}</h2>
            <p class="muted">{published}" Past calls and sends keep the version they were priced with."</p>
            <RateTable version=current currency=cards.currency.clone() />
            {editor}
            <h3>"Versions"</h3>
            <ul class="rate-versions">{versions}</ul>
        </section>
    }
    .into_any()
}

/// The two prices of one line, as typed.
#[derive(Clone, Copy)]
struct RateFields {
    meta: RwSignal<String>,
    billable: RwSignal<String>,
}

impl RateFields {
    fn new(rate: RateForm) -> Self {
        RateFields { meta: RwSignal::new(rate.meta), billable: RwSignal::new(rate.billable) }
    }

    fn form(&self) -> RateForm {
        RateForm { meta: self.meta.get_untracked(), billable: self.billable.get_untracked() }
    }
}

/// A country's row: a key for the list, its code and its prices.
#[derive(Clone, Copy)]
struct CountryRow {
    key: usize,
    country: RwSignal<String>,
    rate: RateFields,
}

#[component]
fn RateInputs(
    line: String,
    label: String,
    rate: RateFields,
    refused: Signal<Option<(String, String)>>,
) -> impl IntoView {
    let invalid = move |part: &'static str| {
        let field = format!("{line}.{part}");
        move || refused.with(|r| r.as_ref().is_some_and(|(f, _)| *f == field)).to_string()
    };
    view! {
        <tr>
            <th scope="row">{label.clone()}</th>
            <td><input type="text" inputmode="decimal" aria-label=format!("{label}: Meta's cost") bind:value=rate.meta aria-invalid=invalid("meta") /></td>
            <td><input type="text" inputmode="decimal" aria-label=format!("{label}: billable") bind:value=rate.billable aria-invalid=invalid("billable") /></td>
            <td></td>
        </tr>
    }
    .into_any()
}

#[component]
fn RateCardEditor(form: RateCardForm, publish: FormAction<PublishRateCard>) -> impl IntoView {
    let minutes = RwSignal::new(form.call_estimate_minutes);
    let note = RwSignal::new(String::new());
    let default_call = RateFields::new(form.default_call);
    // In MESSAGE_LINES' order.
    let messages = [form.text, form.media, form.template, form.calling_template].map(RateFields::new);
    let [text, media, template, calling_template] = messages;
    let next_key = StoredValue::new(form.countries.len());
    let countries = RwSignal::new(
        form.countries
            .into_iter()
            .enumerate()
            .map(|(key, row)| CountryRow {
                key,
                country: RwSignal::new(row.country),
                rate: RateFields::new(RateForm { meta: row.meta, billable: row.billable }),
            })
            .collect::<Vec<_>>(),
    );
    let add_country = move |_| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        countries.update(|rows| {
            rows.push(CountryRow {
                key,
                country: RwSignal::new(String::new()),
                rate: RateFields::new(RateForm::default()),
            })
        });
    };
    let value = publish.value();
    let refused = Signal::derive(move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Invalid { field, message })) => Some((field.clone(), message.clone())),
            _ => None,
        })
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = RateCardForm {
            call_estimate_minutes: minutes.get_untracked(),
            default_call: default_call.form(),
            countries: countries
                .get_untracked()
                .iter()
                .map(|row| CountryRateForm {
                    country: row.country.get_untracked(),
                    meta: row.rate.meta.get_untracked(),
                    billable: row.rate.billable.get_untracked(),
                })
                .collect(),
            text: text.form(),
            media: media.form(),
            template: template.form(),
            calling_template: calling_template.form(),
            note: note.get_untracked(),
        };
        publish.dispatch_json(&PublishRateCard { form });
    };
    let outcome = move || {
        value.with(|v| match v {
            Some(Ok(FormReply::Done(version))) => Some(
                view! { <p class="ok" role="status">{format!("Published version {version}.")}</p> }
                    .into_any(),
            ),
            Some(Ok(FormReply::Invalid { field, message })) => {
                Some(view! { <p class="error" role="alert">{format!("{field}: {message}")}</p> }.into_any())
            }
            Some(Err(err)) => {
                Some(view! { <p class="error" role="alert">{crate::api::error_text(err)}</p> }.into_any())
            }
            None => None,
        })
    };
    // Built in parts (each type-erased) so the hydrate build's view type stays shallow.
    let message_rows = MESSAGE_LINES
        .into_iter()
        .zip(messages)
        .map(|((line, label), rate)| {
            view! { <RateInputs line=format!("messages.{line}") label=label.to_owned() rate refused /> }
        })
        .collect_view()
        .into_any();
    let table = view! {
        <div class="table-wrap">
            <table class="rates">
                <thead>
                    <tr>
                        <th scope="col">"Line"</th>
                        <th scope="col">"Meta's cost"</th>
                        <th scope="col">"Billable"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <RateInputs line="default_call".to_owned() label="Calls, any other country".to_owned() rate=default_call refused />
                    <CountryRows countries />
                    {message_rows}
                </tbody>
            </table>
        </div>
    }
    .into_any();
    let controls = view! {
        <div class="admin-form">
            <button class="button quiet" type="button" on:click=add_country>"Add a country"</button>
            <div class="field">
                <label for="rate-minutes">"Minutes held per call"</label>
                <input id="rate-minutes" type="text" inputmode="numeric" bind:value=minutes />
            </div>
            <div class="field">
                <label for="rate-note">"Note"</label>
                <input id="rate-note" type="text" maxlength="200" placeholder="What changed" bind:value=note />
            </div>
            <button class="button" type="submit" disabled=move || publish.pending().get()>
                {move || if publish.pending().get() { "Publishing…" } else { "Publish new version" }}
            </button>
        </div>
    }
    .into_any();
    view! {
        <details class="rate-editor">
            <summary>"Edit the rate card"</summary>
            <form class="rate-form" on:submit=on_submit novalidate aria-label="Edit the rate card">
                <p class="muted">"Prices in the wallet currency with up to 6 decimals: calls per 6-second pulse, messages per message. Billable prices may not be below Meta's cost."</p>
                {table}
                {controls}
                {outcome}
            </form>
        </details>
    }
    .into_any()
}

/// The editor's country rows: a code and its two prices each, removable.
#[component]
fn CountryRows(countries: RwSignal<Vec<CountryRow>>) -> impl IntoView {
    view! {
        <For each=move || countries.get() key=|row| row.key let:row>
            <tr>
                <th scope="row">
                    <input type="text" class="country-code" maxlength="2" placeholder="IN" aria-label="Country code" bind:value=row.country />
                </th>
                <td><input type="text" inputmode="decimal" aria-label=move || format!("Calls to {}: Meta's cost", row.country.get()) bind:value=row.rate.meta /></td>
                <td><input type="text" inputmode="decimal" aria-label=move || format!("Calls to {}: billable", row.country.get()) bind:value=row.rate.billable /></td>
                <td>
                    <button class="button quiet" type="button" on:click=move |_| countries.update(|rows| rows.retain(|r| r.key != row.key))>
                        "Remove"
                    </button>
                </td>
            </tr>
        </For>
    }
    .into_any()
}

#[component]
fn ExpensesSection(refresh: Signal<usize>) -> impl IntoView {
    let query = use_query_map();
    let typed = Memo::new(move |_| {
        let q = query.read();
        let get = |name: &str| q.get(name).unwrap_or_default();
        (get("kind"), get("from"), get("to"))
    });
    let filter = Memo::new(move |_| {
        let (kind, from, to) = typed.get();
        ExpenseFilter::from_form(&kind, &from, &to).map_err(|err| err.public_message())
    });
    let expenses = ServerResource::new(
        move || (filter.get(), refresh.get()),
        |(filter, _)| async move {
            match filter {
                Ok(filter) => list_expenses(filter).await,
                Err(message) => Err(ServerFnError::ServerError(message)),
            }
        },
    );
    let csv_href = move || match filter.get() {
        Ok(filter) if filter.query().is_empty() => "/api/v1/app/billing/expenses.csv".to_owned(),
        Ok(filter) => format!("/api/v1/app/billing/expenses.csv?{}", filter.query()),
        Err(_) => "/api/v1/app/billing/expenses.csv".to_owned(),
    };
    view! {
        <section class="card" aria-labelledby="expenses-heading">
            <div class="card-head">
                <h2 id="expenses-heading">"Expenses"</h2>
                <a class="button quiet" href=csv_href download="switchboard-expenses.csv">"Download CSV"</a>
            </div>
            {move || {
                let (kind, from, to) = typed.get();
                view! { <ExpenseFilterForm kind from to /> }
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading expenses…"</p> }>
                {move || Suspend::new(async move {
                    match expenses.await {
                        Ok(expenses) => view! { <ExpenseTable expenses /> }.into_any(),
                        Err(err) => {
                            view! { <p class="error" role="alert">{crate::api::error_text(&err)}</p> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn ExpenseFilterForm(kind: String, from: String, to: String) -> impl IntoView {
    view! {
        // A plain GET form: the filtered view is a full page with its own address.
        <form method="get" action="/admin/billing" class="inline-form filters" aria-label="Filter the expenses">
            <label>
                "Kind"
                <select name="kind">
                    <option value="" selected=kind.is_empty()>"All kinds"</option>
                    {StatementKind::ALL
                        .into_iter()
                        .map(|option| view! { <option value=option.as_str() selected=kind == option.as_str()>{option.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>"From" <input type="date" name="from" value=from /></label>
            <label>"To" <input type="date" name="to" value=to /></label>
            <button class="button quiet" type="submit">"Show"</button>
        </form>
    }
    .into_any()
}

#[component]
fn ExpenseTable(expenses: Expenses) -> impl IntoView {
    let period = format!(
        "{} to {} (UTC)",
        format::utc_timestamp(expenses.from),
        format::utc_timestamp(expenses.to - 1)
    );
    if expenses.rows.is_empty() {
        return view! { <p class="empty">{format!("No billing lines from {period}.")}</p> }.into_any();
    }
    let currency = expenses.currency.clone();
    let total: i64 = expenses.rows.iter().map(|row| row.amount.get()).sum();
    let rows = expenses
        .rows
        .into_iter()
        .map(|row| {
            let kind_label = StatementKind::parse(&row.kind).map_or_else(|_| row.kind.clone(), |kind| kind.label().to_owned());
            let cause = match (&row.call_id, &row.message_id, &row.top_up_id) {
                (Some(call), _, _) => view! {
                    <a href=format!("/calling/calls/{call}")>{format!("Call to {}", row.callee.clone().unwrap_or_else(|| "—".to_owned()))}</a>
                }.into_any(),
                (None, Some(message), _) => view! { <span>"Message "<code>{message.clone()}</code></span> }.into_any(),
                (None, None, Some(top_up)) => view! { <code>{top_up.clone()}</code> }.into_any(),
                _ => view! { <span class="muted">"—"</span> }.into_any(),
            };
            view! {
                <tr data-kind=row.kind.clone()>
                    <td><time>{format::utc_timestamp(row.at)}</time></td>
                    <td>{kind_label}</td>
                    <td>{cause}</td>
                    <td>{row.reason.clone().unwrap_or_default()}</td>
                    <td class=if row.amount.is_negative() { "amount money-out" } else { "amount money-in" }>{money(row.amount, &currency)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted">{format!("From {period}, newest first. Net change: {}.", money(Micros(total), &currency))}</p>
        <div class="table-wrap">
            <table class="expenses">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"For"</th>
                        <th scope="col">"Note"</th>
                        <th scope="col">"Amount"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
