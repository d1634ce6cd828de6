//! Calling a server function from the page: [`FormAction`] and [`ServerForm`], in place of
//! Leptos' `ServerAction` and `<ActionForm>`, for forms the user fills in and for calls made from
//! code ([`FormAction::dispatch_json`], [`FormAction::dispatch_fields`]).
//!
//! Why: for every server function, `<ActionForm>` compiles a `serde_qs` deserializer (to build
//! the function's arguments from the form) and a `serde_qs` serializer (to send them again as the
//! same form encoding), and `ServerAction` compiles Leptos' action machinery once per argument
//! and answer type. On the pages with many forms that was a fifth of the page's WASM. Here the
//! form's fields are posted as the browser encodes them (`application/x-www-form-urlencoded`,
//! exactly what a browser without JavaScript posts, and what the server function decodes either
//! way) through one action shared by every form, whose value is the answer's JSON text; only
//! reading that text as the function's answer type is compiled per form.
//!
//! What the user sees is the same as with `<ActionForm>`: the form works without JavaScript
//! (an ordinary `POST` to the function's URL, errors come back in the URL), and with it the page
//! stays put and shows the answer; the submit button's name and value are sent as a browser
//! sends them.

use std::marker::PhantomData;

use calling::url::encode_value;
use leptos::html::Form;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::server_fn::error::ServerFnUrlError;
use serde::de::DeserializeOwned;

/// One call: the server function's path and its arguments, encoded.
#[derive(Clone)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // read in the browser only
struct Submission {
    path: &'static str,
    content_type: &'static str,
    body: String,
}

const URL_ENCODED: &str = "application/x-www-form-urlencoded";

/// A server function's answer before it is read as its type: the JSON text, or the error.
type Answer = Result<String, ServerFnError>;

/// The server function `S` behind a form; `Copy`, like Leptos' actions.
pub struct FormAction<S> {
    action: Action<Submission, Answer>,
    server_fn: PhantomData<fn() -> S>,
}

impl<S> Clone for FormAction<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for FormAction<S> {}

impl<S> FormAction<S> {
    /// The last call's error, if it failed (whatever the answer type).
    pub fn failure(&self) -> Option<ServerFnError> {
        self.action.value().with(|answer| answer.as_ref().and_then(|answer| answer.as_ref().err().cloned()))
    }
}

impl<S> FormAction<S>
where
    S: ServerFn<Error = ServerFnError>,
    S::Output: DeserializeOwned,
{
    /// A new action for `S`. After a submission without JavaScript that failed, the server
    /// sends the page back with the error in its URL; it becomes this action's first value.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let failed_without_js = use_context::<leptos::server::ServerActionError>()
            .filter(|error| error.path() == S::PATH)
            .map(|error| Err(ServerFnUrlError::<ServerFnError>::decode_err(error.err())));
        FormAction { action: submissions(failed_without_js), server_fn: PhantomData }
    }

    /// The last answer, read as `S`'s answer type (`None` before the first one).
    pub fn value(&self) -> Signal<Option<Result<S::Output, ServerFnError>>>
    where
        S::Output: Send + Sync + 'static,
    {
        let action = self.action;
        Signal::derive(move || action.value().with(|answer| answer.as_ref().map(read_answer::<S::Output>)))
    }

    /// Calls `S` from code, for a server function whose input is JSON (`#[server(input = Json)]`).
    pub fn dispatch_json(&self, args: &S)
    where
        S: serde::Serialize,
    {
        match serde_json::to_string(args) {
            Ok(body) => {
                self.action.dispatch_local(Submission {
                    path: S::PATH,
                    content_type: "application/json",
                    body,
                });
            }
            Err(err) => self.action.value().set(Some(Err(ServerFnError::Serialization(err.to_string())))),
        }
    }

    /// Calls `S` from code with these fields, sent as a form sends them (a server function with
    /// the default input).
    pub fn dispatch_fields(&self, fields: &[(&str, &str)]) {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode_value(name), encode_value(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.action.dispatch_local(Submission { path: S::PATH, content_type: URL_ENCODED, body });
    }

    /// Whether a submission is on its way.
    pub fn pending(&self) -> Memo<bool> {
        self.action.pending()
    }

    /// How many answers have come back: a resource that depends on it reloads after each.
    pub fn version(&self) -> RwSignal<usize> {
        self.action.version()
    }

    /// The form's target, for [`ServerForm`].
    fn target(&self) -> FormTarget {
        FormTarget { action: self.action, path: S::PATH }
    }
}

fn read_answer<T: DeserializeOwned>(answer: &Answer) -> Result<T, ServerFnError> {
    let text = answer.as_ref().map_err(Clone::clone)?;
    serde_json::from_str(text).map_err(|err| ServerFnError::Deserialization(err.to_string()))
}

/// The one action every form shares the code of (see the module doc).
fn submissions(initial: Option<Answer>) -> Action<Submission, Answer> {
    Action::new_unsync_with_value(initial, |submission: &Submission| send(submission.clone()))
}

/// Posts a submission as Leptos' client posts a server function's arguments, and reads the
/// answer as it does: an error status carries the server function's error; a redirect goes
/// through the router's redirect hook.
async fn send(submission: Submission) -> Answer {
    #[cfg(feature = "hydrate")]
    {
        use leptos::server_fn::client::Client;
        use leptos::server_fn::client::browser::BrowserClient;
        use leptos::server_fn::error::FromServerFnError;
        use leptos::server_fn::request::ClientReq;
        use leptos::server_fn::request::browser::BrowserRequest;
        use leptos::server_fn::response::ClientRes;
        use leptos::server_fn::response::browser::BrowserResponse;

        let request = <BrowserRequest as ClientReq<ServerFnError>>::try_new_post(
            submission.path,
            submission.content_type,
            "application/json",
            submission.body,
        )?;
        let response = <BrowserClient as Client<ServerFnError>>::send(request).await?;
        type Response = BrowserResponse;
        let status = <Response as ClientRes<ServerFnError>>::status(&response);
        let location = <Response as ClientRes<ServerFnError>>::location(&response);
        let redirected =
            (300..=399).contains(&status) || <Response as ClientRes<ServerFnError>>::has_redirect(&response);
        if (400..=599).contains(&status) {
            let error = <Response as ClientRes<ServerFnError>>::try_into_bytes(response).await?;
            return Err(ServerFnError::de(error));
        }
        let text = <Response as ClientRes<ServerFnError>>::try_into_string(response).await?;
        if redirected {
            leptos::server_fn::redirect::call_redirect_hook(&location);
        }
        Ok(text)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = submission;
        Err(ServerFnError::Request("forms are sent by the browser".into()))
    }
}

/// What a [`ServerForm`] needs of its action, whatever the server function.
#[derive(Clone, Copy)]
pub struct FormTarget {
    action: Action<Submission, Answer>,
    path: &'static str,
}

impl<S> From<FormAction<S>> for FormTarget
where
    S: ServerFn<Error = ServerFnError>,
    S::Output: DeserializeOwned,
{
    fn from(action: FormAction<S>) -> Self {
        action.target()
    }
}

/// A `<form>` that posts to its action's server function (see the module doc).
#[component]
pub fn ServerForm(
    /// The server function the form calls.
    #[prop(into)]
    action: FormTarget,
    /// Where to keep the `<form>` element (to reset it, say).
    #[prop(optional)]
    node_ref: Option<NodeRef<Form>>,
    children: Children,
) -> impl IntoView {
    let FormTarget { action, path } = action;
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        if ev.default_prevented() {
            return;
        }
        ev.prevent_default();
        match url_encoded(&ev) {
            Some(body) => {
                action.dispatch_local(Submission { path, content_type: URL_ENCODED, body });
            }
            None => {
                // The browser could not read its own form: say so rather than send nothing.
                let unreadable = ServerFnError::Serialization("the browser could not read the form".into());
                action.value().set(Some(Err(unreadable)));
            }
        }
    };
    let node_ref = node_ref.unwrap_or_default();
    view! {
        <form action=path method="post" on:submit=on_submit node_ref=node_ref>
            {children()}
        </form>
    }
}

/// The submitted form's fields (with the submit button's), URL-encoded as a browser posts them.
fn url_encoded(ev: &leptos::ev::SubmitEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let data = leptos::form::form_data_from_event(ev).ok()?;
        let fields = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok()?;
        fields.to_string().as_string()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev; // a form is submitted in the browser only
        None
    }
}
