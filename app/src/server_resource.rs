//! [`ServerResource`]: a server function's answer loaded as a resource, in place of Leptos'
//! `Resource` on the pages.
//!
//! Why: `Resource::new` compiles Leptos' resource machinery (the memoized source, the async
//! derived signal, reading the server-rendered value back) once per call site, because it is
//! generic over the source and fetcher closures as well as the value (on the largest pages,
//! 2–3 KB gzipped per resource). Here every page's resources are one and the same
//! `Resource<Result<Payload, ServerFnError>>`, built in one non-generic function; what stays per
//! call site is a closure that starts the load and the typed read of the answer.
//!
//! Behaviour is Leptos' own: the server loads the resource while rendering and sends the answer
//! with the page, the browser reads it from there instead of asking again, and the resource
//! loads again whenever its key changes; awaiting it inside `Suspense`/`Transition` suspends
//! them as a `Resource` does.

use std::any::Any;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An answer as the shared resource holds it.
#[derive(Clone)]
enum Payload {
    /// As JSON text: rendered on the server, and read back from the page in the browser.
    Json(String),
    /// As the answer itself: loaded in the browser.
    #[cfg_attr(feature = "ssr", allow(dead_code))] // made in the browser only
    Loaded(Arc<dyn Any + Send + Sync>),
}

/// Only a server-rendered answer is ever sent with the page, and that is always text.
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Json(text) => serializer.serialize_str(text),
            Payload::Loaded(_) => Err(serde::ser::Error::custom("a loaded answer is not sent on")),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Payload::Json)
    }
}

type Answer = Result<Payload, ServerFnError>;

/// One load to run. Closures cannot be compared, so each key the resource sees gets a new
/// generation, and a new generation is what makes the resource load again.
#[derive(Clone)]
struct Load {
    generation: u64,
    run: Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>,
}

impl PartialEq for Load {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation
    }
}

/// A server function's answer of type `T`, loaded again whenever its key changes; `Copy`, like
/// Leptos' `Resource`. Await it (inside `Suspense` or `Transition`) for the answer.
pub struct ServerResource<T> {
    answers: Resource<Answer>,
    value: PhantomData<fn() -> T>,
}

impl<T> Clone for ServerResource<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ServerResource<T> {}

impl<T> ServerResource<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Loads `fetch(key())` now, and again whenever `key` changes (it is tracked like a
    /// `Resource`'s source).
    pub fn new<K, Fut>(
        key: impl Fn() -> K + Send + Sync + 'static,
        fetch: impl Fn(K) -> Fut + Send + Sync + 'static,
    ) -> Self
    where
        K: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, ServerFnError>> + Send + 'static,
    {
        static GENERATIONS: AtomicU64 = AtomicU64::new(0);
        let fetch = Arc::new(fetch);
        let loads = Signal::derive(move || {
            let key = key();
            let fetch = fetch.clone();
            Load {
                generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
                run: Arc::new(move || {
                    let loading = fetch(key.clone());
                    Box::pin(async move { loading.await.and_then(pack) })
                }),
            }
        });
        ServerResource { answers: answers(loads), value: PhantomData }
    }
}

/// The one resource every page shares the code of (see the module doc).
fn answers(loads: Signal<Load>) -> Resource<Answer> {
    Resource::new(move || loads.get(), |load: Load| (load.run)())
}

/// On the server, the answer becomes the text sent with the page; in the browser it is kept as
/// it is.
#[cfg(feature = "ssr")]
fn pack<T: Serialize>(value: T) -> Answer {
    serde_json::to_string(&value)
        .map(Payload::Json)
        .map_err(|err| ServerFnError::Serialization(err.to_string()))
}

#[cfg(not(feature = "ssr"))]
fn pack<T: Send + Sync + 'static>(value: T) -> Answer {
    Ok(Payload::Loaded(Arc::new(value)))
}

fn unpack<T: DeserializeOwned + Clone + 'static>(answer: Answer) -> Result<T, ServerFnError> {
    match answer? {
        Payload::Json(text) => {
            serde_json::from_str(&text).map_err(|err| ServerFnError::Deserialization(err.to_string()))
        }
        Payload::Loaded(value) => value
            .downcast_ref::<T>()
            .cloned()
            .ok_or_else(|| ServerFnError::Deserialization("an answer of another type".into())),
    }
}

impl<T> IntoFuture for ServerResource<T>
where
    T: DeserializeOwned + Clone + Send + 'static,
{
    type Output = Result<T, ServerFnError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let answer = self.answers.into_future();
        Box::pin(async move { unpack(answer.await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Rights {
        can_manage: bool,
    }

    #[test]
    fn a_server_rendered_answer_travels_as_text_and_reads_back() {
        let answer = pack(Rights { can_manage: true });
        let sent = serde_json::to_string(&answer).unwrap();
        assert_eq!(sent, r#"{"Ok":"{\"can_manage\":true}"}"#);
        let received: Answer = serde_json::from_str(&sent).unwrap();
        assert_eq!(unpack::<Rights>(received).unwrap(), Rights { can_manage: true });
    }

    #[test]
    fn a_loaded_answer_reads_back_as_itself() {
        let answer: Answer = Ok(Payload::Loaded(Arc::new(Rights { can_manage: false })));
        assert_eq!(unpack::<Rights>(answer).unwrap(), Rights { can_manage: false });
        let refused: Answer = Err(ServerFnError::ServerError("no".into()));
        assert!(
            matches!(unpack::<Rights>(refused), Err(ServerFnError::ServerError(message)) if message == "no")
        );
    }
}
