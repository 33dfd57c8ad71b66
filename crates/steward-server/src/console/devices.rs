//! The device list and the device page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::{DeviceStatus, JobKind, Timestamp};
use steward_proto::api::{DeviceQuery, DeviceSort};
use steward_store::{ChangeRecord, DeviceRecord, JobRecord};

use super::format::{bytes, duration_secs, percent, relative, utc};
use super::{Chrome, csrf_ok, csrf_rejected, error_page, render};
use crate::api::devices::filter_from;
use crate::api::views::paging;
use crate::auth::{ConsoleUser, OperateDevices, urlencode};
use crate::error::AppResult;
use crate::state::AppState;

/// A device as a table row.
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub os: String,
    pub tags: Vec<String>,
    pub last_seen: String,
    pub last_seen_exact: String,
    pub enrolled: String,
}

impl DeviceRow {
    pub fn new(d: &DeviceRecord, now: Timestamp) -> Self {
        let status = DeviceStatus::derive(
            now,
            d.last_seen_at,
            d.checkin_interval_secs,
            d.revoked_at.is_some(),
        );
        Self {
            id: d.id.clone(),
            name: d.name.clone(),
            status: status.as_str(),
            os: format!("{} {}", d.os_name, d.os_version).trim().to_string(),
            tags: d.tags.clone(),
            last_seen: d.last_seen_at.map_or("never".into(), |t| relative(t, now)),
            last_seen_exact: d.last_seen_at.map(utc).unwrap_or_default(),
            enrolled: utc(d.enrolled_at),
        }
    }
}

/// A timeline line.
pub struct ChangeRow {
    pub device_id: String,
    pub device_name: String,
    pub kind: &'static str,
    pub category: &'static str,
    pub summary: String,
    pub when: String,
    pub exact: String,
}

impl ChangeRow {
    pub fn new(c: &ChangeRecord, now: Timestamp) -> Self {
        let kind = c.event.kind.as_str();
        let category = if c.event.kind.is_security_relevant() {
            "security"
        } else if kind.starts_with("package") {
            "software"
        } else {
            "system"
        };
        Self {
            device_id: c.device_id.clone(),
            device_name: c.device_name.clone(),
            kind,
            category,
            summary: c.event.describe(),
            when: relative(c.at, now),
            exact: utc(c.at),
        }
    }
}

/// A sortable column header link.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub arrow: &'static str,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    chrome: Chrome,
    rows: Vec<DeviceRow>,
    total: u64,
    name: String,
    os: String,
    tag: String,
    columns: Vec<SortLink>,
    page: u32,
    pages: u32,
    prev_href: String,
    next_href: String,
}

fn list_href(q: &DeviceQuery, sort: DeviceSort, desc: bool, page: u32) -> String {
    let sort_name = match sort {
        DeviceSort::Name => "name",
        DeviceSort::LastSeen => "last_seen",
        DeviceSort::Os => "os",
        DeviceSort::Enrolled => "enrolled",
    };
    let mut href = format!("/devices?sort={sort_name}&desc={desc}&page={page}");
    for (key, value) in [("name", &q.name), ("os", &q.os), ("tag", &q.tag)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            href.push_str(&format!("&{key}={}", urlencode(v)));
        }
    }
    href
}

pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Result<Query<DeviceQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_page(
            &user.0,
            StatusCode::BAD_REQUEST,
            "Bad request",
            "That filter or sort order is not one Steward knows.",
        );
    };
    match build_list(&state, &user, q).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

async fn build_list(
    state: &AppState,
    user: &ConsoleUser,
    q: DeviceQuery,
) -> AppResult<DevicesPage> {
    let (page, per_page, offset) = paging(q.page, q.per_page, 50, 200);
    let (devices, total) = state
        .store
        .list_devices(&filter_from(&q, offset, u64::from(per_page)))
        .await?;
    let now = state.now();
    let sort = q.sort.unwrap_or_default();
    let desc = q.desc.unwrap_or(false);
    let columns = [
        ("Name", DeviceSort::Name),
        ("Operating system", DeviceSort::Os),
        ("Last seen", DeviceSort::LastSeen),
        ("Enrolled", DeviceSort::Enrolled),
    ]
    .into_iter()
    .map(|(label, key)| SortLink {
        label,
        href: list_href(&q, key, key == sort && !desc, 1),
        arrow: match (key == sort, desc) {
            (true, false) => "↑",
            (true, true) => "↓",
            _ => "",
        },
    })
    .collect();
    let pages = total.div_ceil(u64::from(per_page)).max(1) as u32;
    Ok(DevicesPage {
        chrome: Chrome::new(&user.0, "devices"),
        rows: devices.iter().map(|d| DeviceRow::new(d, now)).collect(),
        total,
        name: q.name.clone().unwrap_or_default(),
        os: q.os.clone().unwrap_or_default(),
        tag: q.tag.clone().unwrap_or_default(),
        columns,
        page,
        pages,
        prev_href: if page > 1 {
            list_href(&q, sort, desc, page - 1)
        } else {
            String::new()
        },
        next_href: if page < pages {
            list_href(&q, sort, desc, page + 1)
        } else {
            String::new()
        },
    })
}

pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub struct DiskRow {
    pub mount: String,
    pub device: String,
    pub fs_type: String,
    pub size: String,
    pub used: String,
    pub percent: u8,
    pub level: &'static str,
}

pub struct ListenerRow {
    pub protocol: &'static str,
    pub address: String,
    pub port: u16,
    pub process: String,
    pub exposed: bool,
}

pub struct JobRow {
    pub kind: &'static str,
    pub state: &'static str,
    pub requested_by: String,
    pub when: String,
    pub exact: String,
    pub message: String,
}

impl JobRow {
    fn new(j: &JobRecord, now: Timestamp) -> Self {
        Self {
            kind: j.kind.describe(),
            state: j.state.as_str(),
            requested_by: j.requested_by.clone(),
            when: relative(j.created_at, now),
            exact: utc(j.created_at),
            message: j.message.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    chrome: Chrome,
    device: DeviceRow,
    has_inventory: bool,
    overview: Vec<Fact>,
    hardware: Vec<Fact>,
    disks: Vec<DiskRow>,
    interfaces: Vec<steward_core::NetInterface>,
    software: Vec<steward_store::SoftwareRecord>,
    software_total: u64,
    software_search: String,
    software_truncated: bool,
    /// Administrators and accounts that can log in.
    accounts: Vec<steward_core::Account>,
    /// Accounts that cannot log in and are not administrators.
    system_accounts: Vec<steward_core::Account>,
    listeners: Vec<ListenerRow>,
    changes: Vec<ChangeRow>,
    changes_total: u64,
    changes_truncated: bool,
    jobs: Vec<JobRow>,
    queued: bool,
}

#[derive(Deserialize, Default)]
pub struct DevicePageQuery {
    /// Software search.
    sq: Option<String>,
    queued: Option<u8>,
}

pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<DevicePageQuery>,
) -> Response {
    match build_detail(&state, &user, &id, q).await {
        Ok(Some(page)) => render(StatusCode::OK, &page),
        Ok(None) => error_page(
            &user.0,
            StatusCode::NOT_FOUND,
            "Device not found",
            "No device has this address. It may have been removed; the device list shows the ones Steward knows.",
        ),
        Err(e) => e.into_response(),
    }
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    let value = value.into();
    Fact {
        label,
        value: if value.trim().is_empty() {
            "—".into()
        } else {
            value
        },
    }
}

async fn build_detail(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    q: DevicePageQuery,
) -> AppResult<Option<DevicePage>> {
    let Some(device) = state.store.device(id).await? else {
        return Ok(None);
    };
    let now = state.now();
    let inventory = state.store.inventory(id).await?;
    let has_inventory = inventory.is_some();
    let inv = inventory.unwrap_or_default();
    let metrics = state.store.metrics(id).await?;
    let search = q.sq.unwrap_or_default();
    let (software, software_total) = state.store.software(id, Some(&search), 0, 500).await?;
    let (changes, changes_total) = state.store.changes(id, None, 0, 100).await?;
    let jobs = state.store.jobs_for_device(id, 10).await?;
    let uptime = metrics
        .as_ref()
        .map(|(_, m)| duration_secs(m.uptime_secs))
        .unwrap_or_default();
    let overview = vec![
        fact("Hostname", inv.hostname.clone()),
        fact(
            "Operating system",
            format!("{} {}", inv.os.name, inv.os.version),
        ),
        fact("Kernel", inv.os.kernel.clone()),
        fact("Architecture", inv.os.arch.clone()),
        fact(
            "Booted",
            if inv.boot_time > 0 {
                utc(Timestamp::from_secs(inv.boot_time))
            } else {
                String::new()
            },
        ),
        fact("Uptime", uptime),
        fact("Enrolled", utc(device.enrolled_at)),
        fact("Device id", device.id.clone()),
    ];
    let hw = &inv.hardware;
    let memory_used = metrics
        .as_ref()
        .map(|(_, m)| format!(" ({} in use)", bytes(m.memory_used_bytes)))
        .unwrap_or_default();
    let hardware = vec![
        fact(
            "Processor",
            if hw.cpu_cores > 0 {
                format!("{} × {}", hw.cpu_cores, hw.cpu_model)
            } else {
                String::new()
            },
        ),
        fact(
            "Memory",
            if hw.memory_bytes > 0 {
                format!("{}{memory_used}", bytes(hw.memory_bytes))
            } else {
                String::new()
            },
        ),
        fact("Vendor", hw.vendor.clone()),
        fact("Model", hw.model.clone()),
        fact("Serial number", hw.serial.clone()),
    ];
    let usage = metrics
        .as_ref()
        .map(|(_, m)| m.filesystems.clone())
        .unwrap_or_default();
    let disks = inv
        .filesystems
        .iter()
        .map(|f| {
            let used = usage.iter().find(|u| u.mount_point == f.mount_point);
            let pct = used.map_or(0, |u| percent(u.used_bytes, u.total_bytes));
            DiskRow {
                mount: f.mount_point.clone(),
                device: f.device.clone(),
                fs_type: f.fs_type.clone(),
                size: bytes(f.total_bytes),
                used: used.map_or("—".into(), |u| bytes(u.used_bytes)),
                percent: pct,
                level: match pct {
                    91.. => "critical",
                    81..=90 => "warning",
                    _ => "ok",
                },
            }
        })
        .collect();
    let listeners = inv
        .listeners
        .iter()
        .map(|l| ListenerRow {
            protocol: l.protocol.as_str(),
            address: l.address.clone(),
            port: l.port,
            process: match l.pid {
                Some(pid) if !l.process.is_empty() => format!("{} ({pid})", l.process),
                _ => l.process.clone(),
            },
            exposed: !(l.address.starts_with("127.") || l.address == "::1"),
        })
        .collect();
    // People first: administrators, then accounts that can log in; system accounts apart.
    let (mut accounts, system_accounts): (Vec<_>, Vec<_>) = inv
        .accounts
        .iter()
        .cloned()
        .partition(|a| a.is_admin || a.can_login);
    accounts.sort_by_key(|a| (!a.is_admin, a.uid));
    Ok(Some(DevicePage {
        chrome: Chrome::new(&user.0, "devices"),
        device: DeviceRow::new(&device, now),
        has_inventory,
        overview,
        hardware,
        disks,
        interfaces: inv.interfaces.clone(),
        software_truncated: (software.len() as u64) < software_total,
        software,
        software_total,
        software_search: search,
        accounts,
        system_accounts,
        listeners,
        changes_truncated: (changes.len() as u64) < changes_total,
        changes: changes.iter().map(|c| ChangeRow::new(c, now)).collect(),
        changes_total,
        jobs: jobs.iter().map(|j| JobRow::new(j, now)).collect(),
        queued: q.queued == Some(1),
    }))
}

#[derive(Deserialize)]
pub struct RefreshForm {
    #[serde(default)]
    csrf: String,
}

pub async fn refresh(
    State(state): State<AppState>,
    user: ConsoleUser<OperateDevices>,
    Path(id): Path<String>,
    Form(form): Form<RefreshForm>,
) -> Response {
    if !csrf_ok(&user.0, &form.csrf) {
        return csrf_rejected(&user.0);
    }
    match crate::admin::queue_job(&state, &id, JobKind::CollectInventory, &user.0.label()).await {
        Ok(_) => {
            Redirect::to(&format!("/devices/{}?queued=1#jobs", urlencode(&id))).into_response()
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => error_page(
            &user.0,
            StatusCode::NOT_FOUND,
            "Device not found",
            "No device has this address.",
        ),
        Err(e) => error_page(&user.0, e.status, "Could not queue the job", &e.message),
    }
}
