//! Managing monitoring from the console: checks (`/checks`), maintenance windows
//! (`/maintenance`), notification channels and their routes (`/channels`), and a device's
//! checks on its page ([`device`]). Thin, like the API: each form becomes the API's request
//! type and goes to the same service functions (`checks`, `windows`, `channels`, `alerts`),
//! which authorise, validate and audit. A refused form is shown again as it was typed, with
//! the reason above it.
//!
//! Who may do what follows the API: anyone who sees devices sees checks and windows;
//! defining them takes `ManageMonitoring`; channels and routes take `ManageChannels`.

mod channels;
mod check_form;
mod checks;
pub mod device;
mod maintenance;
mod parse;
pub(crate) mod targets;

use steward_core::Action;

use crate::auth::Principal;
use crate::service::{DomainError, Refusal};
use crate::web::routes::{Access, Routes};

/// The console's monitoring pages and forms.
pub fn routes() -> Routes {
    use Action::{ManageChannels, ManageMonitoring, ViewDevices};
    Routes::new()
        .get("/checks", Access::Requires(ViewDevices), checks::page)
        .post(
            "/checks",
            Access::Requires(ManageMonitoring),
            checks::create,
        )
        .post(
            "/checks/{id}",
            Access::Requires(ManageMonitoring),
            checks::update,
        )
        .post(
            "/checks/{id}/delete",
            Access::Requires(ManageMonitoring),
            checks::delete,
        )
        .get(
            "/maintenance",
            Access::Requires(ViewDevices),
            maintenance::page,
        )
        .post(
            "/maintenance",
            Access::Requires(ManageMonitoring),
            maintenance::create,
        )
        .post(
            "/maintenance/{id}/delete",
            Access::Requires(ManageMonitoring),
            maintenance::delete,
        )
        .get(
            "/channels",
            Access::Requires(ManageChannels),
            channels::page,
        )
        .post(
            "/channels",
            Access::Requires(ManageChannels),
            channels::create,
        )
        .post(
            "/channels/{id}/delete",
            Access::Requires(ManageChannels),
            channels::delete,
        )
        .post(
            "/channels/{id}/test",
            Access::Requires(ManageChannels),
            channels::test,
        )
        .post(
            "/channels/routes",
            Access::Requires(ManageChannels),
            channels::create_route,
        )
        .post(
            "/channels/routes/{id}/delete",
            Access::Requires(ManageChannels),
            channels::delete_route,
        )
}

/// A tab of the monitoring pages.
pub struct Tab {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// Checks, Maintenance and (for those who manage them) Notifications, `current` marked.
fn tabs(user: &Principal, current: &str) -> Vec<Tab> {
    let mut tabs = vec![("/checks", "Checks"), ("/maintenance", "Maintenance")];
    if user.may(Action::ManageChannels) {
        tabs.push(("/channels", "Notifications"));
    }
    tabs.into_iter()
        .map(|(href, label)| Tab {
            href,
            label,
            current: href == current,
        })
        .collect()
}

/// Whether a refusal is about what was typed (shown above the form, the form kept) rather
/// than about the request (not found, a database failure: the error page).
fn about_the_form<E: DomainError>(e: &E) -> Option<axum::http::StatusCode> {
    use axum::http::StatusCode;
    match e.refusal() {
        Refusal::Invalid => Some(StatusCode::BAD_REQUEST),
        Refusal::Conflict => Some(StatusCode::CONFLICT),
        Refusal::Forbidden => Some(StatusCode::FORBIDDEN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            crate::console::format::sentence("name: 1 to 100 characters"),
            "Name: 1 to 100 characters."
        );
        assert_eq!(crate::console::format::sentence("done."), "Done.");
    }
}
