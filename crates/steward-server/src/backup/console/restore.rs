//! The restore form's answer: the paths ticked and typed, the device and the folder, checked
//! for what a person can get wrong (nothing chosen, no folder, `/` without saying so) and
//! handed to the backup service; a refusal brings the snapshot's page back as it was, with
//! the reason above the form.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::device_href;
use super::listing;
use super::snapshot::{Place, RestoreValues, show};
use crate::auth::{ConsoleUser, ManageBackups};
use crate::backup::service::{self, BackupError, RestoreRequest};
use crate::console::FormFields;
use crate::devices::DeviceError;
use crate::error::AppError;
use crate::service::{DomainError, Refusal};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

/// The restore form: what was ticked (`path`, one per box) and typed (`paths`, one a line),
/// the device (`target_device`) and folder (`target_path`); restoring to `/` overwrites
/// files in place, so it needs `overwrite` ticked too. `folder` and `diff` bring the page
/// back as it was when the form is refused.
pub async fn restore(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path((id, snapshot)): Path<(String, String)>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let place = Place {
        device: id,
        snapshot,
        folder: listing::normalize(fields.get("folder")),
        diff: fields.get("diff").trim().to_owned(),
    };
    let values = RestoreValues {
        ticked: fields.all("path"),
        typed: fields.get("paths").to_owned(),
        target_device: fields.get("target_device").trim().to_owned(),
        target_path: fields.get("target_path").trim().to_owned(),
    };
    let caller = user.caller(&state);
    let refuse = |values, error: &str| {
        show(
            &state,
            &caller,
            &place,
            values,
            error.to_owned(),
            StatusCode::BAD_REQUEST,
        )
    };
    let chosen = chosen_paths(&values.ticked, &values.typed);
    if chosen.is_empty() {
        return refuse(
            values,
            "Choose what to restore: tick files or folders, or type their paths.",
        )
        .await;
    }
    if values.target_path.is_empty() {
        return refuse(values, "Choose the folder to restore into: an absolute path on the target device (\"/\" puts the files back where they were).").await;
    }
    if values.target_path == "/" && fields.get("overwrite") != "on" {
        return refuse(values, "Restoring to \"/\" overwrites the files in their original place: tick the box that says so to go ahead.").await;
    }
    // "/" among the paths is the whole snapshot, which the service asks for as no paths.
    let paths = if chosen.iter().any(|p| p == "/") {
        Vec::new()
    } else {
        chosen
    };
    let request = RestoreRequest {
        source: place.device.clone(),
        snapshot: place.snapshot.clone(),
        paths,
        target_device: if values.target_device.is_empty() {
            place.device.clone()
        } else {
            values.target_device.clone()
        },
        target_path: values.target_path.clone(),
    };
    let target = request.target_device.clone();
    match service::restore(&state, &caller, request).await {
        Ok(_) => Redirect::to(&device_href(&target, Some("restore"))).into_response(),
        Err(BackupError::Device(DeviceError::NotFound)) => {
            refuse(values, "The device to restore to was not found.").await
        }
        Err(e) if matches!(e.refusal(), Refusal::Invalid | Refusal::Conflict) => {
            let reason = crate::console::format::sentence(&e.to_string());
            refuse(values, &reason).await
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// The paths ticked and typed, each absolute and canonical, without repeats, in order.
fn chosen_paths(ticked: &[String], typed: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in ticked.iter().map(String::as_str).chain(typed.lines()) {
        if raw.trim().is_empty() {
            continue;
        }
        let path = format!("/{}", listing::normalize(raw.trim()));
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::chosen_paths;

    #[test]
    fn chosen_paths_are_absolute_canonical_and_unique() {
        let ticked = vec!["/srv/share/a.txt".to_owned(), "/srv/share/docs".to_owned()];
        assert_eq!(
            chosen_paths(&ticked, "srv/share/a.txt\n\n  /srv//other/  \n"),
            ["/srv/share/a.txt", "/srv/share/docs", "/srv/other"]
        );
        assert!(chosen_paths(&[], " \n").is_empty());
        assert_eq!(chosen_paths(&[], "/"), ["/"]);
    }
}
