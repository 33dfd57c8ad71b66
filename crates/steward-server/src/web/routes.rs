//! Routes are declared once, with their access decision.
//!
//! Each capability's `routes()` returns a [`Routes`]: its API routes (added from their
//! `#[utoipa::path]` handlers, so the router and the OpenAPI document come from the same
//! declaration) and its console pages, each registered with the [`Access`] it needs. The
//! application merges them all ([`crate::router`]) and keeps the table of registrations:
//! - [`refusal`] (run for every request by `web::layers::around_route`) refuses any request
//!   that reaches a route missing from the table (say, a plain router merged from
//!   elsewhere), so a route without a decision fails closed;
//! - the access walk in the end-to-end tests reads the same table
//!   ([`crate::route_table`]) and checks every route anonymously and as each role.
//!
//! The decision is enforced by the handler's extractor (`Authorized<P>`, `ConsoleUser<P>`,
//! `AgentIdentity`); the table states it, and the walk proves the two agree.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::MatchedPath;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_core::Action;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::state::AppState;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, sign-in, static assets, enrollment (whose token is the credential).
    Public,
    /// A device's own credential (the agent protocol); never a user or an API token.
    Device,
    /// A person or API token whose role permits the action.
    Requires(Action),
    /// A metrics scraper: the configured metrics token or an allowed address
    /// (`telemetry::access`); never a person's session or API token.
    Scraper,
}

/// Where a route is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Agent,
    Console,
    /// Steward's own metrics for Prometheus (`/metrics`).
    Metrics,
    /// restic's REST protocol for a device's own backup repository (`/backup/v1/…`): not
    /// Steward's API, so not in its OpenAPI document.
    Backup,
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub method: Method,
    /// The path as routed, e.g. `/api/v1/devices/{id}`.
    pub path: String,
    pub access: Access,
    pub surface: Surface,
}

impl std::fmt::Display for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A set of routes with their decisions; see the module documentation.
pub struct Routes {
    api: OpenApiRouter<AppState>,
    pages: Router<AppState>,
    table: Vec<Registration>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Self {
            api: OpenApiRouter::new(),
            pages: Router::new(),
            table: Vec::new(),
        }
    }

    /// An API or agent route, documented by its handler's `#[utoipa::path]` (use
    /// `utoipa_axum::routes!(handler)`); its paths and methods come from that annotation.
    pub fn api(mut self, access: Access, route: UtoipaMethodRouter<AppState>) -> Self {
        let (_, paths, _) = &route;
        for (path, item) in &paths.paths {
            let surface = if path.starts_with("/agent/") {
                Surface::Agent
            } else {
                Surface::Api
            };
            for method in methods_of(item) {
                self.table.push(Registration {
                    method,
                    path: path.clone(),
                    access,
                    surface,
                });
            }
        }
        self.api = self.api.routes(route);
        self
    }

    /// A console page (or an undocumented API route) answering GET.
    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.page(Method::GET, path, access, axum::routing::get(handler))
    }

    /// Steward's own metrics at `path`, for scrapers only ([`Access::Scraper`]).
    pub fn scrape<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.table.push(Registration {
            method: Method::GET,
            path: path.to_string(),
            access: Access::Scraper,
            surface: Surface::Metrics,
        });
        self.pages = self.pages.route(path, axum::routing::get(handler));
        self
    }

    /// A route of a device's backup repository ([`Surface::Backup`]), answering `methods`
    /// (HEAD goes with GET). Only ever [`Access::Device`]: the handlers take the device's own
    /// credential, and nothing else reaches a repository over HTTP.
    pub fn backup(
        mut self,
        path: &'static str,
        methods: &[Method],
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        for method in methods {
            self.table.push(Registration {
                method: method.clone(),
                path: path.to_string(),
                access: Access::Device,
                surface: Surface::Backup,
            });
        }
        self.pages = self.pages.route(path, route);
        self
    }

    /// A console form answering POST.
    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.page(Method::POST, path, access, axum::routing::post(handler))
    }

    fn page(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        // Only the OpenAPI document itself is an API route outside the document.
        let surface = if path.starts_with("/api/") {
            Surface::Api
        } else {
            Surface::Console
        };
        self.table.push(Registration {
            method,
            path: path.to_string(),
            access,
            surface,
        });
        self.pages = self.pages.route(path, route);
        self
    }

    /// Both sets, decisions and all.
    pub fn merge(mut self, other: Routes) -> Self {
        self.api = self.api.merge(other.api);
        self.pages = self.pages.merge(other.pages);
        self.table.extend(other.table);
        self
    }

    /// Applies `f` to the routers of this set only (a body limit, say).
    pub fn map_routers(
        mut self,
        api: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
        pages: impl FnOnce(Router<AppState>) -> Router<AppState>,
    ) -> Self {
        self.api = api(self.api);
        self.pages = pages(self.pages);
        self
    }

    /// The router (API and pages), the OpenAPI document of the API routes, and the table.
    pub fn into_parts(
        self,
    ) -> (
        Router<AppState>,
        utoipa::openapi::OpenApi,
        Vec<Registration>,
    ) {
        let (api, doc) = self.api.split_for_parts();
        (api.merge(self.pages), doc, self.table)
    }
}

fn methods_of(item: &utoipa::openapi::PathItem) -> Vec<Method> {
    [
        (Method::GET, item.get.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::DELETE, item.delete.is_some()),
        (Method::PATCH, item.patch.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}

/// The registered methods of each registered path, for [`guard`].
#[derive(Debug, Clone, Default)]
pub struct Decided(Arc<HashMap<String, Vec<Method>>>);

impl Decided {
    pub fn new(table: &[Registration]) -> Self {
        let mut map: HashMap<String, Vec<Method>> = HashMap::new();
        for r in table {
            map.entry(r.path.clone())
                .or_default()
                .push(r.method.clone());
        }
        Self(Arc::new(map))
    }
}

/// Whether a request may reach its route: `None` lets it through; otherwise the answer. A
/// matched route missing from the table was added without an access decision: refused (500,
/// logged) rather than served. A registered path asked with another method is a 405,
/// whatever a stray handler says. No matched route: the fallback answers (404).
pub fn refusal(decided: &Decided, method: &Method, path: Option<&MatchedPath>) -> Option<Response> {
    let path = path?;
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    match decided.0.get(path.as_str()) {
        Some(methods) if methods.contains(method) => None,
        Some(methods) => {
            let allow = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            Some(
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    [(header::ALLOW, allow)],
                    "method not allowed",
                )
                    .into_response(),
            )
        }
        None => {
            tracing::error!(
                route = %path.as_str(),
                "a route is served without an access decision: refused (register it with web::routes::Routes)"
            );
            Some(
                crate::error::AppError::internal("route without an access decision")
                    .into_response(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn hello() -> &'static str {
        "hello"
    }

    /// A route merged from elsewhere without a decision is refused; registered ones answer.
    #[tokio::test]
    async fn a_route_without_a_decision_is_refused() {
        let state = crate::state(
            steward_store::Store::connect("sqlite::memory:")
                .await
                .unwrap(),
            crate::ServerConfig::default(),
        )
        .unwrap();
        let routes = super::Routes::new().get("/known", super::Access::Public, hello);
        let (router, _, table) = routes.into_parts();
        let rogue = axum::Router::new().route("/rogue", axum::routing::get(hello));
        let app = router
            .merge(rogue)
            .layer(axum::middleware::from_fn_with_state(
                crate::web::layers::Around {
                    decided: super::Decided::new(&table),
                    telemetry: state.telemetry.clone(),
                },
                crate::web::layers::around_route,
            ))
            .with_state(state);
        let status = |uri: &'static str, method: &'static str| {
            let app = app.clone();
            async move {
                app.oneshot(
                    Request::builder()
                        .method(method)
                        .uri(uri)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap()
                .status()
                .as_u16()
            }
        };
        assert_eq!(status("/known", "GET").await, 200);
        assert_eq!(status("/known", "HEAD").await, 200);
        assert_eq!(status("/rogue", "GET").await, 500);
        assert_eq!(status("/known", "POST").await, 405);
        assert_eq!(status("/missing", "GET").await, 404);
    }
}
