//! The device page (everything Steward knows about one machine, one section per part of its
//! inventory, its change timeline and its jobs) and the "Collect inventory now" button.
//!
//! Query parameters: `sq` searches the software list; `sp`, `cp`, `dp`, `np`, `ap` and `lp`
//! page through software, changes, disks, network interfaces, accounts and listening
//! sockets (every list is paged, so no inventory makes the page unbounded); `mr` picks the
//! metrics charts' range (`1h`, `24h`, `7d`, `30d`, `1y`); `queued=1` says a job was just
//! queued.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::{Account, JobKind, NetInterface, Timestamp};
use steward_store::{JobRecord, SoftwareRecord};

use super::sections::{self as sections, DiskRow, Fact, ListenerRow};
use crate::auth::{ConsoleUser, OperateDevices, OrganizeDevices, RevokeDevices, urlencode};
use crate::console::format::{date, relative, utc};
use crate::console::views::{ChangeRow, DeviceRow, Pager, page_param};
use crate::console::{Chrome, error_page, refused, render};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

const SOFTWARE_PER_PAGE: u32 = 50;
const CHANGES_PER_PAGE: u32 = 25;
/// Disks, interfaces, accounts and listening sockets: a page each.
const SECTION_PER_PAGE: u32 = 50;

pub struct JobRow {
    pub kind: &'static str,
    pub state: &'static str,
    pub requested_by: String,
    pub when: String,
    pub exact: String,
    pub updated: String,
    pub message: String,
    /// What the job printed (a script's output, an install's log), shown folded; backups'
    /// machine-readable summaries are not.
    pub output: String,
}

impl JobRow {
    fn new(j: &JobRecord, now: Timestamp) -> Self {
        Self {
            kind: j.kind.describe(),
            state: j.state.as_str(),
            requested_by: crate::console::format::actor(&j.requested_by),
            when: relative(j.created_at, now),
            exact: utc(j.created_at),
            updated: if j.updated_at > j.created_at {
                relative(j.updated_at, now)
            } else {
                String::new()
            },
            message: j.message.clone(),
            output: match j.kind {
                JobKind::RunScript | JobKind::InstallUpdates => j.output.clone(),
                _ => String::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    chrome: Chrome,
    device: DeviceRow,
    /// Why the page is short, when it is: revoked, or no inventory yet.
    revoked_on: String,
    has_inventory: bool,
    overview: Vec<Fact>,
    hardware: Vec<Fact>,
    disks: Vec<DiskRow>,
    disks_pager: Pager,
    interfaces: Vec<NetInterface>,
    interfaces_pager: Pager,
    software: Vec<SoftwareRecord>,
    software_total: u64,
    software_search: String,
    software_pager: Pager,
    /// Administrators and accounts that can log in.
    accounts: Vec<Account>,
    /// Accounts that cannot log in and are not administrators.
    system_accounts: Vec<Account>,
    accounts_total: usize,
    accounts_pager: Pager,
    listeners: Vec<ListenerRow>,
    listeners_pager: Pager,
    changes: Vec<ChangeRow>,
    changes_total: u64,
    changes_pager: Pager,
    jobs: Vec<JobRow>,
    /// The metrics charts and their range tabs.
    metrics: crate::history::console::Charts,
    /// The checks judged for this device, with their recent history.
    checks: crate::monitoring::manage::device::DeviceChecks,
    /// The device's backups, with "Back up now" and the snapshots.
    backups: crate::backup::console::DeviceBackups,
    queued: bool,
    /// The group and tags form, for those who may organise devices.
    can_organize: bool,
    /// Credential rotation and revocation, for those who may revoke devices.
    can_revoke: bool,
    /// What was just done to the device's access (`rotated`, `revoked`).
    done: String,
    groups: Vec<(String, String)>,
    group_id: String,
    group_name: String,
    tags_text: String,
    /// Whether the device's own configuration allows scripts, as its agent last said.
    scripts_allowed: bool,
}

/// Lenient: a mangled parameter means its default, never an error page.
#[derive(Deserialize, Default)]
pub struct DevicePageQuery {
    sq: Option<String>,
    sp: Option<String>,
    cp: Option<String>,
    dp: Option<String>,
    np: Option<String>,
    ap: Option<String>,
    lp: Option<String>,
    mr: Option<String>,
    queued: Option<String>,
    done: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    q: Result<Query<DevicePageQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    match build(&state, &user, &id, q).await {
        Ok(Some(page)) => render(StatusCode::OK, &page),
        Ok(None) => not_found(&user),
        Err(e) => e.into_response(),
    }
}

fn not_found<P: crate::auth::Permission>(user: &ConsoleUser<P>) -> Response {
    error_page(
        &user.0,
        StatusCode::NOT_FOUND,
        "Device not found",
        "No device has this address. It may have been removed; the device list shows every device Steward knows.",
    )
}

/// The paged lists of the device page: each with its query parameter, its section's
/// anchor and its page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Software,
    Changes,
    Disks,
    Network,
    Accounts,
    Listening,
}

impl List {
    const ALL: [List; 6] = [
        List::Software,
        List::Changes,
        List::Disks,
        List::Network,
        List::Accounts,
        List::Listening,
    ];

    fn param(self) -> &'static str {
        match self {
            List::Software => "sp",
            List::Changes => "cp",
            List::Disks => "dp",
            List::Network => "np",
            List::Accounts => "ap",
            List::Listening => "lp",
        }
    }

    fn anchor(self) -> &'static str {
        match self {
            List::Software => "software",
            List::Changes => "changes",
            List::Disks => "disks",
            List::Network => "network",
            List::Accounts => "accounts",
            List::Listening => "listening",
        }
    }

    fn per_page(self) -> u32 {
        match self {
            List::Software => SOFTWARE_PER_PAGE,
            List::Changes => CHANGES_PER_PAGE,
            _ => SECTION_PER_PAGE,
        }
    }

    fn param_in(self, q: &DevicePageQuery) -> Option<&str> {
        match self {
            List::Software => q.sp.as_deref(),
            List::Changes => q.cp.as_deref(),
            List::Disks => q.dp.as_deref(),
            List::Network => q.np.as_deref(),
            List::Accounts => q.ap.as_deref(),
            List::Listening => q.lp.as_deref(),
        }
    }
}

/// Where each list on the page stands: the software search, every list's page and the
/// charts' range.
#[derive(Debug, Clone, PartialEq)]
struct Place {
    search: String,
    /// Indexed like [`List::ALL`].
    pages: [u32; 6],
    range: &'static str,
}

impl Place {
    fn from_query(q: &DevicePageQuery) -> Place {
        Place {
            search: q.sq.clone().unwrap_or_default().trim().to_string(),
            pages: List::ALL.map(|list| page_param(list.param_in(q))),
            range: crate::history::console::range_key(q.mr.as_deref()),
        }
    }

    fn page(&self, list: List) -> u32 {
        self.pages[list as usize]
    }

    /// A link to this device page with `list` moved to `page` (the others stay where they
    /// are), at that list's section.
    fn href(&self, id: &str, list: List, page: u32) -> String {
        let mut pages = self.pages;
        pages[list as usize] = page;
        self.link(id, pages, self.range, list.anchor())
    }

    /// A link to the charts over `range`, the lists staying where they are.
    fn range_href(&self, id: &str, range: &'static str) -> String {
        self.link(id, self.pages, range, "metrics")
    }

    fn link(&self, id: &str, pages: [u32; 6], range: &str, anchor: &str) -> String {
        let mut params = Vec::new();
        if !self.search.is_empty() {
            params.push(format!("sq={}", urlencode(&self.search)));
        }
        for (other, page) in List::ALL.iter().zip(pages) {
            if page > 1 {
                params.push(format!("{}={page}", other.param()));
            }
        }
        if range != crate::history::console::DEFAULT_RANGE {
            params.push(format!("mr={range}"));
        }
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        format!("/devices/{}{query}#{anchor}", urlencode(id))
    }

    /// The pager under `list`, which has `total` items.
    fn pager(&self, id: &str, list: List, total: usize) -> Pager {
        Pager::new(self.page(list), list.per_page(), total as u64, |p| {
            self.href(id, list, p)
        })
    }

    /// The items of `list` on its current page.
    fn slice<'a, T>(&self, list: List, items: &'a [T]) -> &'a [T] {
        page_of(items, self.page(list), list.per_page())
    }
}

/// The `page`th slice of `items` (1-based; past the end, empty).
fn page_of<T>(items: &[T], page: u32, per_page: u32) -> &[T] {
    let start = (page.saturating_sub(1) as usize).saturating_mul(per_page as usize);
    let start = start.min(items.len());
    let end = start.saturating_add(per_page as usize).min(items.len());
    &items[start..end]
}

async fn build(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    q: DevicePageQuery,
) -> AppResult<Option<DevicePage>> {
    let caller = user.caller(state);
    let opened = match super::open(state, &caller, id).await {
        Ok(d) => d,
        Err(super::DeviceError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let device = &opened.device;
    let now = state.now();
    let inventory = opened.inventory().await?;
    let has_inventory = inventory.is_some();
    let inv = inventory.unwrap_or_default();
    let metrics = opened.metrics().await?.map(|(_, m)| m);
    let metrics = metrics.as_ref();
    let place = Place::from_query(&q);
    let (search, software_page, changes_page) = (
        place.search.clone(),
        place.page(List::Software),
        place.page(List::Changes),
    );
    let (software, software_total) = opened
        .software(
            Some(&search),
            u64::from(software_page - 1) * u64::from(SOFTWARE_PER_PAGE),
            u64::from(SOFTWARE_PER_PAGE),
        )
        .await?;
    let (changes, changes_total) = opened
        .changes(
            None,
            u64::from(changes_page - 1) * u64::from(CHANGES_PER_PAGE),
            u64::from(CHANGES_PER_PAGE),
        )
        .await?;
    let jobs = opened.jobs(10).await?;
    let charts = crate::history::console::charts(
        &opened,
        place.range,
        now,
        &state.config.metrics_history,
        |range| place.range_href(id, range),
    )
    .await?;
    let checks = crate::monitoring::manage::device::section(state, &caller, id, now).await?;
    let backups =
        crate::backup::console::section(state, &caller, device, now, q.done.as_deref()).await?;
    let mut overview = sections::overview(&inv, metrics, now);
    overview.push(Fact {
        label: "Enrolled",
        value: date(device.enrolled_at),
        title: utc(device.enrolled_at),
    });
    overview.push(Fact {
        label: "Device id",
        value: device.id.clone(),
        title: String::new(),
    });
    let all_accounts = sections::accounts_people_first(&inv);
    let (accounts, system_accounts): (Vec<Account>, Vec<Account>) = place
        .slice(List::Accounts, &all_accounts)
        .iter()
        .cloned()
        .partition(|a| a.is_admin || a.can_login);
    let disks = place.slice(List::Disks, &inv.filesystems);
    let listeners = place.slice(List::Listening, &inv.listeners);
    Ok(Some(DevicePage {
        chrome: Chrome::new(&user.0, "devices"),
        device: DeviceRow::new(device, now),
        revoked_on: device.revoked_at.map(date).unwrap_or_default(),
        has_inventory,
        overview,
        hardware: sections::hardware(&inv, metrics),
        disks: sections::disks(disks, metrics),
        disks_pager: place.pager(id, List::Disks, inv.filesystems.len()),
        interfaces: place.slice(List::Network, &inv.interfaces).to_vec(),
        interfaces_pager: place.pager(id, List::Network, inv.interfaces.len()),
        software,
        software_total,
        software_pager: place.pager(id, List::Software, software_total as usize),
        software_search: search.clone(),
        accounts,
        system_accounts,
        accounts_total: all_accounts.len(),
        accounts_pager: place.pager(id, List::Accounts, all_accounts.len()),
        listeners: sections::listeners(listeners),
        listeners_pager: place.pager(id, List::Listening, inv.listeners.len()),
        changes: changes.iter().map(|c| ChangeRow::new(c, now)).collect(),
        changes_total,
        changes_pager: place.pager(id, List::Changes, changes_total as usize),
        jobs: jobs.iter().map(|j| JobRow::new(j, now)).collect(),
        metrics: charts,
        checks,
        backups,
        queued: q.queued.as_deref() == Some("1"),
        can_organize: user.0.may(steward_core::Action::OrganizeDevices),
        can_revoke: user.0.may(steward_core::Action::RevokeDevices),
        done: q.done.clone().unwrap_or_default(),
        groups: state
            .store
            .list_groups()
            .await?
            .into_iter()
            .filter(|g| user.0.sees(Some(&g.id)))
            .map(|g| (g.id, g.name))
            .collect(),
        scripts_allowed: state
            .store
            .device_ingest_state(&device.id)
            .await?
            .is_some_and(|d| d.agent_scripts_allowed),
        group_id: device.group_id.clone().unwrap_or_default(),
        group_name: device.group_name.clone().unwrap_or_default(),
        tags_text: device.tags.join(", "),
    }))
}

/// "Collect inventory now": queues a `collect_inventory` job.
pub async fn refresh(
    State(state): State<AppState>,
    user: ConsoleUser<OperateDevices>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<crate::console::FormFields>,
) -> Response {
    let caller = user.caller(&state);
    match super::queue_job(&state, &caller, &id, JobKind::CollectInventory).await {
        Ok(_) => {
            Redirect::to(&format!("/devices/{}?queued=1#jobs", urlencode(&id))).into_response()
        }
        Err(super::DeviceError::NotFound) => not_found(&user),
        Err(e) => refused(&user.0, e, "Could not queue the job", &device_page(&id)),
    }
}

fn device_page(id: &str) -> String {
    format!("/devices/{}", urlencode(id))
}

#[cfg(test)]
mod tests {
    use super::{DevicePageQuery, List, Place, page_of};

    #[test]
    fn page_links_keep_the_other_lists_where_they_were() {
        let first = Place::from_query(&DevicePageQuery::default());
        assert_eq!(first.href("d1", List::Software, 1), "/devices/d1#software");
        let place = Place::from_query(&DevicePageQuery {
            sq: Some(" lib ssl ".into()),
            sp: Some("2".into()),
            lp: Some("4".into()),
            ..Default::default()
        });
        assert_eq!(
            place.href("d1", List::Changes, 3),
            "/devices/d1?sq=lib%20ssl&sp=2&cp=3&lp=4#changes"
        );
        assert_eq!(
            place.href("d1", List::Accounts, 2),
            "/devices/d1?sq=lib%20ssl&sp=2&ap=2&lp=4#accounts"
        );
        // The charts' range stays as the lists move, and the lists as it changes.
        let week = Place::from_query(&DevicePageQuery {
            sp: Some("2".into()),
            mr: Some("7d".into()),
            ..Default::default()
        });
        assert_eq!(
            week.href("d1", List::Changes, 2),
            "/devices/d1?sp=2&cp=2&mr=7d#changes"
        );
        assert_eq!(
            week.range_href("d1", "1y"),
            "/devices/d1?sp=2&mr=1y#metrics"
        );
        assert_eq!(week.range_href("d1", "24h"), "/devices/d1?sp=2#metrics");
        let unknown = Place::from_query(&DevicePageQuery {
            mr: Some("<script>".into()),
            ..Default::default()
        });
        assert_eq!(unknown.range, "24h");
    }

    #[test]
    fn pages_of_a_list() {
        let items: Vec<u32> = (1..=120).collect();
        assert_eq!(page_of(&items, 1, 50).len(), 50);
        assert_eq!(page_of(&items, 3, 50), &items[100..]);
        assert!(page_of(&items, 4, 50).is_empty());
        assert!(page_of(&items, u32::MAX, 50).is_empty());
    }
}

#[derive(Deserialize)]
pub struct OrganizeForm {
    /// A group id, or empty for none.
    #[serde(default)]
    group: String,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
}

/// Places the device in a group and sets its tags (within the user's scope).
pub async fn organize(
    State(state): State<AppState>,
    user: ConsoleUser<OrganizeDevices>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<OrganizeForm>,
) -> Response {
    let tags: Vec<String> = form.tags.split(',').map(|t| t.trim().to_string()).collect();
    let group = Some(form.group.as_str()).filter(|g| !g.is_empty());
    let caller = user.caller(&state);
    match super::organize(&state, &caller, &id, Some(group), Some(&tags)).await {
        Ok(_) => Redirect::to(&device_page(&id)).into_response(),
        Err(super::DeviceError::NotFound) => not_found(&user),
        Err(e) => refused(&user.0, e, "Cannot change the device", &device_page(&id)),
    }
}

#[derive(Deserialize)]
pub struct AccessForm {
    /// `rotate` (a new credential for the agent) or `revoke` (cut the device off).
    #[serde(default)]
    op: String,
}

/// Rotates the agent's credential or revokes the device.
pub async fn access(
    State(state): State<AppState>,
    user: ConsoleUser<RevokeDevices>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AccessForm>,
) -> Response {
    let caller = user.caller(&state);
    let result = match form.op.as_str() {
        "rotate" => super::request_rotation(&state, &caller, &id)
            .await
            .map(|_| "rotated"),
        "revoke" => super::revoke(&state, &caller, &id).await.map(|_| "revoked"),
        _ => {
            return error_page(
                &user.0,
                StatusCode::BAD_REQUEST,
                "Cannot change the device's access",
                "unknown action",
            );
        }
    };
    match result {
        Ok(done) => {
            Redirect::to(&format!("/devices/{}?done={done}", urlencode(&id))).into_response()
        }
        Err(super::DeviceError::NotFound) => not_found(&user),
        Err(e) => refused(
            &user.0,
            e,
            "Cannot change the device's access",
            &device_page(&id),
        ),
    }
}
