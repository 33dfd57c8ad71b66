//! The console's answer to a manual item: a multipart form, since it may carry a file as
//! evidence. Its route has the attachment's body limit (`api::attachment_routes`), and the
//! form's CSRF token is checked before anything is saved, as `CsrfForm` does for the
//! console's other forms (which are URL-encoded and cannot carry a file).

use std::collections::HashMap;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use steward_core::posture::manual::Answer;
use steward_proto::posture::SaveAnswer;
use steward_store::AttachmentChange;

use super::console::{PAGE, back};
use super::service::{self, MAX_ATTACHMENT_BYTES, PostureError};
use crate::auth::{ConsoleUser, ManagePosture};
use crate::console::{error_page, refused};
use crate::state::AppState;

/// A text field's longest length, in bytes (the note, the longest, takes 4,000 characters).
const MAX_FIELD_BYTES: usize = 16 * 1024;

const TITLE: &str = "Answer a checklist item";

/// What the form sent.
#[derive(Default)]
struct Sent {
    fields: HashMap<String, String>,
    /// (file name, media type, bytes); a file input left empty sends no file.
    file: Option<(String, String, Vec<u8>)>,
}

impl Sent {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Reads the form, each part bounded; a file over the limit is refused as it streams in.
async fn read(mut form: Multipart) -> Result<Sent, String> {
    let mut sent = Sent::default();
    while let Some(mut field) = form.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let media_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
                if bytes.len() + chunk.len() > MAX_ATTACHMENT_BYTES {
                    return Err(format!(
                        "the file is larger than {} MiB",
                        MAX_ATTACHMENT_BYTES / (1024 * 1024)
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            if !file_name.is_empty() || !bytes.is_empty() {
                sent.file = Some((file_name, media_type, bytes));
            }
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
                if value.len() + chunk.len() > MAX_FIELD_BYTES {
                    return Err(format!("the field {name:?} is too long"));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value)
                .map_err(|_| format!("the field {name:?} is not UTF-8 text"))?;
            sent.fields.entry(name).or_insert(value);
        }
    }
    Ok(sent)
}

pub async fn answer(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePosture>,
    Path(item): Path<String>,
    form: Multipart,
) -> Response {
    let sent = match read(form).await {
        Ok(sent) => sent,
        Err(why) => {
            return error_page(
                &user.0,
                StatusCode::BAD_REQUEST,
                "Request refused",
                &format!("The form could not be read: {why}."),
            );
        }
    };
    if !crate::console::csrf_ok(&user.0, sent.get("csrf")) {
        return crate::console::csrf_rejected(&user.0);
    }
    let Some(answer) = Answer::parse(sent.get("answer")) else {
        let why = PostureError::Invalid("answer: yes, partly, no or not applicable".into());
        return refused(&user.0, why, TITLE, PAGE);
    };
    let review_by = match sent.get("review_by") {
        "" => None,
        text => match steward_core::time::end_of_day(text) {
            Some(t) => Some(t),
            None => {
                let why = PostureError::Invalid("review_by: a date, YYYY-MM-DD".into());
                return refused(&user.0, why, TITLE, PAGE);
            }
        },
    };
    let input = SaveAnswer {
        answer,
        owner: sent.get("owner").to_owned(),
        note: sent.get("note").to_owned(),
        review_by,
    };
    let attachment = match sent.file {
        None => AttachmentChange::Keep,
        Some((name, media_type, bytes)) => AttachmentChange::Replace {
            name,
            media_type: media_type.chars().take(100).collect(),
            bytes,
        },
    };
    match service::save_answer(&state, &user.caller(&state), &item, &input, attachment).await {
        Ok(()) => back("answered", &format!("item-{item}")),
        Err(e) => refused(&user.0, e, TITLE, PAGE),
    }
}
