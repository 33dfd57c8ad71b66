//! The OpenAPI document, generated from the handlers' annotations and served as JSON.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API token from `steward admin api-token create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "a console session; changes (POST, PUT, PATCH, DELETE) also need the session's CSRF token in the X-CSRF-Token header",
            ))),
        );
        components.add_security_scheme(
            "device_credential",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the device credential issued at enrollment"))
                    .build(),
            ),
        );
    }
}

/// What the document says beyond its paths, which come from the routes themselves
/// (`crate::routes`): so a route cannot be served without being documented, nor documented
/// without being served.
#[derive(OpenApi)]
#[openapi(
    info(title = "Steward API", description = "Steward's REST API and agent protocol."),
    // Types reached only through query parameters (IntoParams) are referenced there but not
    // collected by utoipa: named here so their references resolve.
    components(schemas(steward_proto::api::DeviceSort)),
    modifiers(&Security)
)]
struct ApiDoc;

/// The whole document: the description above and every registered API route.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, paths, _) = crate::routes(&crate::ServerConfig::default()).into_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    doc
}

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default())
        .clone()
}

pub async fn serve() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Every `$ref` in `value`, with where it was found.
    fn refs<'a>(value: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a str)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", serde_json::Value::String(r)) => out.push((at.clone(), r)),
                        _ => refs(v, format!("{at}/{k}"), out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    refs(v, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_in_the_openapi_document_resolves() {
        let doc: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let mut found = Vec::new();
        refs(&doc, String::new(), &mut found);
        assert!(found.len() > 20, "the walk found the references");
        let broken: Vec<_> = found
            .iter()
            .filter(|(_, r)| {
                r.strip_prefix('#')
                    .is_none_or(|pointer| doc.pointer(pointer).is_none())
            })
            .collect();
        assert!(broken.is_empty(), "unresolvable references: {broken:#?}");
    }
}
