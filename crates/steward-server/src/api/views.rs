//! Stored records → wire types, shared by the API and the console.

use steward_core::{DeviceStatus, Timestamp};
use steward_proto::api::{ChangeEntry, DeviceSummary, Job, MetricsSnapshot, SoftwareItem};
use steward_store::{ChangeRecord, DeviceRecord, JobRecord, SoftwareRecord};

pub fn device_summary(d: &DeviceRecord, now: Timestamp) -> DeviceSummary {
    DeviceSummary {
        id: d.id.clone(),
        name: d.name.clone(),
        status: DeviceStatus::derive(
            now,
            d.last_seen_at,
            d.checkin_interval_secs,
            d.revoked_at.is_some(),
        ),
        os_name: d.os_name.clone(),
        os_version: d.os_version.clone(),
        tags: d.tags.clone(),
        group_id: d.group_id.clone(),
        group_name: d.group_name.clone(),
        enrolled_at: d.enrolled_at,
        last_seen_at: d.last_seen_at,
    }
}

pub fn change_entry(c: &ChangeRecord) -> ChangeEntry {
    ChangeEntry {
        id: c.id,
        device_id: c.device_id.clone(),
        at: c.at,
        kind: c.event.kind,
        subject: c.event.subject.clone(),
        from: c.event.from.clone(),
        to: c.event.to.clone(),
        summary: c.event.describe(),
    }
}

pub fn software_item(s: &SoftwareRecord) -> SoftwareItem {
    SoftwareItem {
        name: s.name.clone(),
        version: s.version.clone(),
        arch: s.arch.clone(),
        source: s.source.clone(),
    }
}

pub fn job(j: &JobRecord) -> Job {
    Job {
        id: j.id.clone(),
        device_id: j.device_id.clone(),
        kind: j.kind,
        state: j.state,
        created_at: j.created_at,
        updated_at: j.updated_at,
        message: j.message.clone(),
        output: j.output.clone(),
    }
}

pub fn metrics(at: Timestamp, m: steward_core::Metrics) -> MetricsSnapshot {
    MetricsSnapshot {
        collected_at: at,
        cpu_percent: m.cpu_percent,
        memory_used_bytes: m.memory_used_bytes,
        memory_total_bytes: m.memory_total_bytes,
        load_1m: m.load_1m,
        uptime_secs: m.uptime_secs,
        filesystems: m.filesystems,
    }
}

/// Page number and size from a query, with bounds: page ≥ 1, 1 ≤ size ≤ `max`.
pub fn paging(page: Option<u32>, per_page: Option<u32>, default: u32, max: u32) -> (u32, u32, u64) {
    let page = page.unwrap_or(1).max(1);
    let per_page = per_page.unwrap_or(default).clamp(1, max);
    let offset = u64::from(page - 1) * u64::from(per_page);
    (page, per_page, offset)
}
