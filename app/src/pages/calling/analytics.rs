//! `/calling/analytics`: how calls went over a period — totals, a daily chart stacked by
//! outcome (an SVG drawn here, no chart library), and the same numbers as a table.

use calling::analytics::{AgentStats, Analytics, AnalyticsPeriod, DailyPoint};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{error_text, get_analytics, get_analytics_between};
use crate::format;
use crate::server_resource::ServerResource;

/// What the URL asks for: a preset period, or a custom range `?from=YYYY-MM-DD&to=YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Window {
    Period(AnalyticsPeriod),
    Between(String, String),
}

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let query = use_query_map();
    let window = move || {
        query.with(|q| {
            let text = |key: &str| q.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            match (text("from"), text("to")) {
                (Some(from), Some(to)) => Window::Between(from, to),
                _ => Window::Period(
                    q.get("period")
                        .and_then(|p| AnalyticsPeriod::parse(&p))
                        .filter(|p| *p != AnalyticsPeriod::Custom)
                        .unwrap_or(AnalyticsPeriod::SevenDays),
                ),
            }
        })
    };
    let period = move || match window() {
        Window::Period(period) => period,
        Window::Between(..) => AnalyticsPeriod::Custom,
    };
    let current = move |key: &'static str| query.with(|q| q.get(key).unwrap_or_default());
    let live = crate::bridge::live_changes();
    let analytics = ServerResource::new(
        move || (window(), live.get()),
        |(window, _)| async move {
            match window {
                Window::Period(period) => get_analytics(period).await,
                Window::Between(from, to) => get_analytics_between(from, to).await,
            }
        },
    );
    view! {
        <Title text="Analytics" />
        <div class="page-head">
            <h1>"Analytics"</h1>
            <nav class="segmented" aria-label="Period">
                {AnalyticsPeriod::ALL
                    .into_iter()
                    .map(|p| {
                        view! {
                            <a href=format!("/calling/analytics?period={}", p.as_str())
                                aria-current=move || (period() == p).then_some("page")>
                                {p.label()}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            <leptos_router::components::Form method="GET" action="" attr:class="inline-form custom-range" attr:aria-label="Custom range">
                <label>"From" <input type="date" name="from" required prop:value=move || current("from") /></label>
                <label>"To" <input type="date" name="to" required prop:value=move || current("to") /></label>
                <button class="button quiet" type="submit" aria-current=move || (period() == AnalyticsPeriod::Custom).then_some("page")>
                    "Show range"
                </button>
            </leptos_router::components::Form>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading analytics…"</p> }>
            {move || Suspend::new(async move {
                match analytics.await {
                    Ok(analytics) => view! { <AnalyticsView analytics /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AnalyticsView(analytics: Analytics) -> impl IntoView {
    let rate = analytics.answer_rate_percent.map_or_else(|| "—".to_owned(), |p| format!("{p}%"));
    let average = analytics.average_duration_seconds.map_or_else(|| "—".to_owned(), format::duration);
    view! {
        <section class="card" aria-label="Totals">
            <p class="muted" data-range="">
                {format!("{} to {} (UTC)", format::utc_date(analytics.since), format::utc_date(analytics.until - 1))}
            </p>
            <dl class="stats">
                <div class="stat"><dt>"Calls"</dt><dd data-stat="Calls">{analytics.total_calls}</dd></div>
                <div class="stat"><dt>"Answered"</dt><dd data-stat="Answered">{analytics.answered_calls}</dd></div>
                <div class="stat"><dt>"Missed"</dt><dd data-stat="Missed">{analytics.missed_calls}</dd></div>
                <div class="stat"><dt>"Failed"</dt><dd data-stat="Failed">{analytics.failed_calls}</dd></div>
                <div class="stat"><dt>"Answer rate"</dt><dd data-stat="Answer rate">{rate}</dd></div>
                <div class="stat"><dt>"Average duration"</dt><dd data-stat="Average duration">{average}</dd></div>
                <div class="stat"><dt>"Spend"</dt><dd data-stat="Spend">{format::money(analytics.cost_micros)}</dd></div>
            </dl>
        </section>
        <section class="card" aria-labelledby="daily-heading">
            <h2 id="daily-heading">"Calls per day"</h2>
            <DailyChart days=analytics.daily_series.clone() />
            <ul class="legend" aria-hidden="true">
                <li class="answered">"Answered"</li>
                <li class="missed">"Missed"</li>
                <li class="rejected">"Rejected"</li>
                <li class="failed">"Failed"</li>
                <li class="other">"Ringing or in progress"</li>
            </ul>
            <div class="table-wrap">
                <table class="daily">
                    <caption class="visually-hidden">"Calls per day"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Date"</th>
                            <th scope="col" class="num">"Calls"</th>
                            <th scope="col" class="num">"Answered"</th>
                            <th scope="col" class="num">"Missed"</th>
                            <th scope="col" class="num">"Failed"</th>
                            <th scope="col" class="num">"Average duration"</th>
                            <th scope="col" class="num">"Cost"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {analytics
                            .daily_series
                            .into_iter()
                            .rev()
                            .map(|day| {
                                let date = day.date.clone();
                                view! {
                                <tr data-date=date>
                                    <td>{day.date}</td>
                                    <td class="num">{day.count}</td>
                                    <td class="num">{day.answered_count}</td>
                                    <td class="num">{day.missed_count}</td>
                                    <td class="num">{day.failed_count}</td>
                                    <td class="num">{day.average_duration_seconds.map(format::duration).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num">{format::money(day.cost_micros)}</td>
                                </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="card" aria-labelledby="heatmap-heading">
            <h2 id="heatmap-heading">"When calls come"</h2>
            <p class="muted">"Calls by weekday and hour of day (UTC) over the period: where to put people."</p>
            <HourHeatmap cells=analytics.hour_of_week />
        </section>
        <section class="card" aria-labelledby="agents-heading">
            <h2 id="agents-heading">"Agents"</h2>
            <AgentTable agents=analytics.agents />
        </section>
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A weekday × hour table, each cell shaded by its share of the busiest hour (five levels),
/// with the count inside for screen readers and on hover.
#[component]
fn HourHeatmap(cells: Vec<Vec<i64>>) -> impl IntoView {
    let busiest = cells.iter().flatten().copied().max().unwrap_or(0);
    let level = move |count: i64| if count == 0 || busiest == 0 { 0 } else { 1 + (count * 4 - 1) / busiest };
    let rows = cells
        .into_iter()
        .enumerate()
        .map(|(day, hours)| {
            let name = WEEKDAYS.get(day).copied().unwrap_or("?");
            let cells = hours
                .into_iter()
                .enumerate()
                .map(|(hour, count)| {
                    let tip = format!("{name} {hour:02}:00–{hour:02}:59 UTC: {count} calls");
                    let title = tip.clone();
                    view! {
                        <td class=format!("heat heat-{}", level(count)) title=title data-hour=hour data-count=count>
                            <span class="visually-hidden">{tip}</span>
                        </td>
                    }
                })
                .collect_view();
            view! { <tr data-weekday=name><th scope="row">{name}</th>{cells}</tr> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="heatmap">
                <caption class="visually-hidden">"Calls by weekday and hour of day, UTC"</caption>
                <thead>
                    <tr>
                        <td></td>
                        {(0..24).map(|hour| view! { <th scope="col">{if hour % 3 == 0 { format!("{hour:02}") } else { String::new() }}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Calls taken per agent in the period.
#[component]
fn AgentTable(agents: Vec<AgentStats>) -> impl IntoView {
    if agents.is_empty() {
        return view! { <p class="empty">"No call was taken in the browser in this period."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="agents">
                <thead>
                    <tr>
                        <th scope="col">"Agent"</th>
                        <th scope="col" class="num">"Calls"</th>
                        <th scope="col" class="num">"Connected"</th>
                        <th scope="col" class="num">"Talk time"</th>
                        <th scope="col" class="num">"Average duration"</th>
                    </tr>
                </thead>
                <tbody>
                    {agents
                        .into_iter()
                        .map(|agent| {
                            let calls = format!("/calling/calls?agent={}", agent.agent_id);
                            let name = agent.name.clone();
                            view! {
                                <tr data-agent=name>
                                    <td><a href=calls>{agent.name}</a></td>
                                    <td class="num">{agent.calls}</td>
                                    <td class="num">{agent.answered}</td>
                                    <td class="num">{format::duration(agent.talk_seconds)}</td>
                                    <td class="num">{agent.average_duration_seconds.map(format::duration).unwrap_or_else(|| "—".into())}</td>
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

/// Bars per day, stacked answered / missed / rejected / failed, scaled to the busiest day.
#[component]
fn DailyChart(days: Vec<DailyPoint>) -> impl IntoView {
    const HEIGHT: f64 = 160.0;
    const SLOT: f64 = 24.0;
    let width = SLOT * days.len().max(1) as f64;
    let busiest = days.iter().map(|d| d.count).max().unwrap_or(0).max(1) as f64;
    let total: i64 = days.iter().map(|d| d.count).sum();
    let label = format!("{total} calls over {} days; busiest day {} calls", days.len(), busiest as i64);
    let bars = days
        .into_iter()
        .enumerate()
        .map(|(i, day)| {
            let x = i as f64 * SLOT + 4.0;
            let mut top = HEIGHT;
            let unexplained =
                day.count - day.answered_count - day.missed_count - day.rejected_count - day.failed_count;
            let segments = [
                ("answered", day.answered_count),
                ("missed", day.missed_count),
                ("rejected", day.rejected_count),
                ("failed", day.failed_count),
                ("other", unexplained.max(0)),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(class, n)| {
                let h = n as f64 / busiest * (HEIGHT - 8.0);
                top -= h;
                view! { <rect class=class x=x y=top width=SLOT - 8.0 height=h rx="2" /> }
            })
            .collect_view();
            let tip = format!(
                "{}: {} calls, {} answered, {} missed, {} failed",
                day.date, day.count, day.answered_count, day.missed_count, day.failed_count
            );
            view! { <g><title>{tip}</title>{segments}</g> }
        })
        .collect_view();
    view! {
        <svg class="chart" viewBox=format!("0 0 {width} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label>
            <line class="axis" x1="0" y1=HEIGHT x2=width y2=HEIGHT />
            {bars}
        </svg>
    }
}
