//! The status page (operators only): protected domains, their primaries
//! and their delivery queues, counted by status.

use leptos::prelude::*;

use leptos_router::components::Redirect;

use crate::backend::{BackendError, DomainOverview, Overview, QueueCounts};
use crate::components::shell::ErrorBox;

/// The overview, from the backend: for operators only (it names every
/// domain).
#[server]
pub async fn get_overview() -> Result<Overview, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    if !backend.admin_viewer(&session).await?.operator {
        return Err(BackendError::NotFound);
    }
    backend.overview().await
}

#[component]
pub fn StatusPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());
    // Effects run only in the browser: marks the page as hydrated (e2e tests).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <h1 id="title" data-hydrated=move || hydrated.get().then_some("true")>"Mail flow"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <OverviewView o/> }.into_any(),
                    Err(BackendError::Unauthorized) => {
                        view! { <Redirect path="/login?expired=1&next=/status"/> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewView(o: Overview) -> impl IntoView {
    let empty = o.domains.is_empty();
    view! {
        <p class="lede">
            {format!("{} — {} messages in the archive", o.hostname, o.messages)}
        </p>
        <table class="queue" id="domains">
            <thead>
                <tr>
                    <th scope="col">"Domain"</th>
                    <th scope="col">"Primary server"</th>
                    <th scope="col">"Users"</th>
                    <th scope="col">"Queued"</th>
                    <th scope="col">"Delayed"</th>
                    <th scope="col">"Delivered"</th>
                    <th scope="col">"Bounced"</th>
                    <th scope="col">"Expired"</th>
                </tr>
            </thead>
            <tbody>
                {o.domains.into_iter().map(|d| view! { <DomainRow d/> }).collect_view()}
                <tr class="outbound">
                    <th scope="row">"Outbound"</th>
                    <td>"smarthost"</td>
                    <td></td>
                    <Counts q=o.outbound/>
                </tr>
            </tbody>
        </table>
        {empty.then(|| view! {
            <p class="hint">"No protected domain yet: add one with " <code>"continuity domain add"</code> "."</p>
        })}
    }
}

#[component]
fn DomainRow(d: DomainOverview) -> impl IntoView {
    let name = d.name.clone();
    view! {
        <tr data-domain=name>
            <th scope="row">{d.name}</th>
            <td>{d.primary}</td>
            <td class="num">{d.users}</td>
            <Counts q=d.queue/>
        </tr>
    }
}

#[component]
fn Counts(q: QueueCounts) -> impl IntoView {
    // Zero counts are drawn quietly; only real numbers take the status colour.
    let cell = |kind: &'static str, n: i64| {
        let class = if n == 0 {
            format!("num {kind} zero")
        } else {
            format!("num {kind}")
        };
        view! { <td class=class>{n}</td> }
    };
    view! {
        {cell("queued", q.queued + q.delivering)}
        {cell("delayed", q.delayed)}
        {cell("delivered", q.delivered)}
        {cell("bounced", q.bounced)}
        {cell("expired", q.expired)}
    }
}
