//! The OpenAPI document, generated from the handlers' annotations and served as JSON.

use axum::Json;
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

#[derive(OpenApi)]
#[openapi(
    info(title = "Steward API", description = "Steward's REST API and agent protocol."),
    paths(
        super::health,
        super::devices::list,
        super::devices::detail,
        super::devices::software,
        super::devices::changes,
        super::devices::jobs,
        super::devices::create_job,
        super::devices::revoke,
        super::devices::rotate_credential,
        super::access::audit,
        super::access::audit_csv,
        super::access::list_tokens,
        super::access::create_token,
        super::access::revoke_token,
        super::access::security_settings,
        super::access::update_security_settings,
        super::access::create_enroll_token,
        super::users::list,
        super::users::create,
        super::users::detail,
        super::users::update,
        super::users::delete,
        super::users::reset_password,
        super::users::reset_two_factor,
        super::organize::list,
        super::organize::create,
        super::organize::delete,
        super::organize::update_device,
        crate::agent_api::enroll,
        crate::agent_api::reports,
        crate::agent_api::next_job,
        crate::agent_api::update_job,
        crate::agent_api::rotate_credential,
    ),
    // Types reached only through query parameters (IntoParams) are referenced there but not
    // collected by utoipa: named here so their references resolve.
    components(schemas(steward_proto::api::DeviceSort)),
    modifiers(&Security)
)]
struct ApiDoc;

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
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
