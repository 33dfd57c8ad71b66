//! The device list: search by name, filter by operating system and tag, sort by any column
//! (a second click reverses it), 50 to a page. The query string is the API's `DeviceQuery`,
//! so a filtered list is a link that can be shared.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_proto::api::{DeviceQuery, DeviceSort};

use super::api::filter_from;
use crate::api::views::paging;
use crate::auth::{ConsoleUser, urlencode};
use crate::console::views::{DeviceRow, Pager};
use crate::console::{Chrome, error_page, render};
use crate::error::AppResult;
use crate::state::AppState;

/// A sortable column header link.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub aria: &'static str,
    pub arrow: &'static str,
    /// Hidden on narrow screens.
    pub wide_only: bool,
}

/// An entry of the operating-system filter.
pub struct OsOption {
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    chrome: Chrome,
    rows: Vec<DeviceRow>,
    total: u64,
    filtered: bool,
    name: String,
    os_options: Vec<OsOption>,
    tag: String,
    columns: Vec<SortLink>,
    /// The current order, kept when the filters change.
    sort_key: &'static str,
    desc: bool,
    pager: Pager,
}

fn sort_name(sort: DeviceSort) -> &'static str {
    match sort {
        DeviceSort::Name => "name",
        DeviceSort::LastSeen => "last_seen",
        DeviceSort::Os => "os",
        DeviceSort::Enrolled => "enrolled",
    }
}

/// A link to the list with these filters, sort order and page.
pub fn list_href(q: &DeviceQuery, sort: DeviceSort, desc: bool, page: u32) -> String {
    let mut href = format!("/devices?sort={}", sort_name(sort));
    if desc {
        href.push_str("&desc=true");
    }
    for (key, value) in [
        ("name", &q.name),
        ("os", &q.os),
        ("tag", &q.tag),
        ("group", &q.group),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            href.push_str(&format!("&{key}={}", urlencode(v)));
        }
    }
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Result<Query<DeviceQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_page(
            &user.0,
            StatusCode::BAD_REQUEST,
            "Bad request",
            "That filter or sort order is not one Steward knows.",
        );
    };
    match build(&state, &user, q).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

async fn build(state: &AppState, user: &ConsoleUser, q: DeviceQuery) -> AppResult<DevicesPage> {
    let (page, per_page, offset) = paging(q.page, q.per_page, 50, 200);
    let caller = user.caller(state);
    let filter = filter_from(&q, offset, u64::from(per_page));
    let (devices, total) = super::list(state, &caller, &filter).await?;
    let now = state.now();
    let stats = super::fleet_stats(state, &caller).await?;
    let sort = q.sort.unwrap_or_default();
    let desc = q.desc.unwrap_or(false);
    let columns = [
        ("Name", DeviceSort::Name, false),
        ("Operating system", DeviceSort::Os, true),
        ("Last seen", DeviceSort::LastSeen, false),
        ("Enrolled", DeviceSort::Enrolled, true),
    ]
    .into_iter()
    .map(|(label, key, wide_only)| {
        let current = key == sort;
        SortLink {
            label,
            // A click on the current column reverses it; on another, sorts by it ascending.
            href: list_href(&q, key, current && !desc, 1),
            aria: match (current, desc) {
                (true, false) => "ascending",
                (true, true) => "descending",
                _ => "none",
            },
            arrow: match (current, desc) {
                (true, false) => "↑",
                (true, true) => "↓",
                _ => "",
            },
            wide_only,
        }
    })
    .collect();
    let os = q.os.clone().unwrap_or_default();
    let mut os_options: Vec<OsOption> = stats
        .os_breakdown
        .iter()
        .filter(|(name, _)| name != "Unknown")
        .map(|(name, _)| OsOption {
            selected: *name == os,
            name: name.clone(),
        })
        .collect();
    // A filter typed into the URL still shows as selected.
    if !os.is_empty() && !os_options.iter().any(|o| o.selected) {
        os_options.push(OsOption {
            name: os.clone(),
            selected: true,
        });
    }
    let name = q.name.clone().unwrap_or_default();
    let tag = q.tag.clone().unwrap_or_default();
    Ok(DevicesPage {
        chrome: Chrome::new(&user.0, "devices"),
        rows: devices.iter().map(|d| DeviceRow::new(d, now)).collect(),
        total,
        filtered: !(name.is_empty() && os.is_empty() && tag.is_empty()),
        pager: Pager::new(page, per_page, total, |p| list_href(&q, sort, desc, p)),
        name,
        os_options,
        tag,
        columns,
        sort_key: sort_name(sort),
        desc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_links_keep_filters_and_encode_them() {
        let q = DeviceQuery {
            name: Some("ws a&b".into()),
            tag: Some("".into()),
            ..Default::default()
        };
        assert_eq!(
            list_href(&q, DeviceSort::LastSeen, true, 2),
            "/devices?sort=last_seen&desc=true&name=ws%20a%26b&page=2"
        );
        assert_eq!(
            list_href(&DeviceQuery::default(), DeviceSort::Name, false, 1),
            "/devices?sort=name"
        );
    }
}
