//! Metrics history: samples written with each check-in, roll-ups and pruning written by the
//! server's background task, a device's series read back (through a scope, in `scoped`).
//!
//! Tables (migration 0015): `metric_series` (a device's number, its series' names, its
//! roll-up watermark and lease), `metric_samples` and `metric_rollups` (one row per sample
//! or bucket, values in the compact record of [`codec`]). What to roll up, when and what
//! to prune is decided in `steward_core::history`; this module stores the outcome.
//!
//! Check-ins write one multi-row statement of samples inside the ingest transaction. The
//! device's series list is needed to number the values; it only ever grows, so a copy
//! cached in this process stays right, and the database is read only when a sample names a
//! series the copy lacks (a new mount point, another server added it). The copy is updated
//! only after the transaction commits.

pub(crate) mod codec;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use steward_core::Timestamp;
use steward_core::history::keeping::first_watermark;
use steward_core::history::{Prune, Rolled, Sample, SeriesName, StepRollups, Unit};

use crate::rows::{int, text};
use crate::{Backend, Result, Store, StoreError};

/// Most series one device keeps: far more than a machine has (a busy server: tens), and a
/// bound on what an agent inventing mount points or interfaces can make the server keep.
/// Values of series beyond it are not kept.
pub const MAX_SERIES_PER_DEVICE: usize = 256;
/// Most rows of each table one roll-up step deletes for a device: a device with a long
/// backlog (retention just shortened) is pruned over several steps.
const PRUNE_ROWS_PER_STEP: u32 = 1000;
/// Devices whose series lists this process keeps (beyond it the copy starts afresh).
const CACHED_DEVICES: usize = 100_000;

/// The samples of one delivery, for the ingest transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricHistoryWrite {
    /// Samples to keep (the server has dropped those too old for history).
    pub samples: Vec<Sample>,
    /// Where the device's roll-up watermark goes back to, when some samples arrived late
    /// (`steward_core::history::keeping::reroll_from`).
    pub reroll_from: Option<Timestamp>,
}

/// A device's series list: number ↔ name.
#[derive(Debug, Clone)]
pub struct SeriesList {
    pub(crate) device: i64,
    pub(crate) names: Vec<SeriesName>,
    index: HashMap<SeriesName, u32>,
}

impl SeriesList {
    pub(crate) fn new(device: i64, names: Vec<SeriesName>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Self {
            device,
            names,
            index,
        }
    }

    pub(crate) fn parse(device: i64, json: &str) -> Result<Self> {
        let names: Vec<SeriesName> = serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("metric_series.names: {e}")))?;
        Ok(Self::new(device, names))
    }

    pub(crate) fn number(&self, name: &SeriesName) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub(crate) fn unit(&self, number: u32) -> Option<Unit> {
        self.names.get(number as usize).map(SeriesName::unit)
    }

    fn knows_all(&self, write: &MetricHistoryWrite) -> bool {
        write
            .samples
            .iter()
            .all(|s| s.values.iter().all(|(n, _)| self.index.contains_key(n)))
    }

    /// The list with the names `write` brings that it lacks, up to the bound; whether any
    /// were added.
    fn extended(&self, write: &MetricHistoryWrite) -> (SeriesList, bool) {
        let mut names = self.names.clone();
        let mut added = false;
        let mut seen: std::collections::HashSet<&SeriesName> = self.index.keys().collect();
        for (name, _) in write.samples.iter().flat_map(|s| &s.values) {
            if names.len() >= MAX_SERIES_PER_DEVICE {
                break;
            }
            if seen.insert(name) {
                names.push(name.clone());
                added = true;
            }
        }
        (SeriesList::new(self.device, names), added)
    }

    /// A sample's record: the values of the series it knows, in number order.
    fn encode(&self, sample: &Sample) -> Vec<u8> {
        let mut values: Vec<(u32, f64)> = sample
            .values
            .iter()
            .filter_map(|(n, v)| Some((self.number(n)?, *v)))
            .collect();
        values.sort_by_key(|(n, _)| *n);
        codec::encode_sample(&values, |n| self.unit(n).unwrap_or(Unit::BytesPerSecond))
    }
}

/// This process's copy of devices' series lists (see the module's description).
#[derive(Debug, Default)]
pub(crate) struct SeriesCache {
    lists: Mutex<HashMap<String, Arc<SeriesList>>>,
}

impl SeriesCache {
    fn get(&self, device_id: &str) -> Option<Arc<SeriesList>> {
        self.lists
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(device_id)
            .cloned()
    }

    pub(crate) fn put(&self, device_id: &str, list: Arc<SeriesList>) {
        let mut lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        if lists.len() >= CACHED_DEVICES && !lists.contains_key(device_id) {
            lists.clear();
        }
        lists.insert(device_id.to_string(), list);
    }
}

/// A device claimed for its next roll-up step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupClaim {
    pub device_id: String,
    /// The device's number in the metric tables.
    pub device: i64,
    pub rolled_until: Timestamp,
}

/// A device's samples in a span, each value keyed by its series number in `names`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSamples {
    pub names: Vec<SeriesName>,
    pub samples: Vec<Sample<u32>>,
}

/// One roll-up step's outcome for a device.
#[derive(Debug, Clone)]
pub struct RollupWrite {
    pub claim: RollupClaim,
    /// The device's series (from [`DeviceSamples`]), for the values' units.
    pub names: Vec<SeriesName>,
    /// The watermark after the step.
    pub until: Timestamp,
    pub rollups: StepRollups<u32>,
    pub prune: Prune,
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Bucket widths as stored in `metric_rollups.width`.
pub(crate) const FIVE_MINUTES: i64 = steward_core::history::keeping::FIVE_MINUTES_MS;
pub(crate) const HOURLY: i64 = steward_core::history::keeping::HOUR_MS;

impl Store {
    /// Within the ingest transaction (the device's row already updated, which serialises
    /// a device's commits): the device's latest metrics (`latest`: when, and the document),
    /// the delivery's samples, and the watermark moved back for late ones. Returns the
    /// device's series list to cache once the transaction commits.
    ///
    /// On SQLite the latest metrics and the samples go in one call: every statement is a
    /// round trip to the connection's worker thread, and those round trips on the one
    /// writer connection are what bounds how many check-ins a second the server takes.
    pub(crate) async fn write_checkin_metrics(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        device_id: &str,
        latest: Option<(Timestamp, String)>,
        write: &MetricHistoryWrite,
    ) -> Result<Option<Arc<SeriesList>>> {
        let series = match write.samples.iter().map(|s| s.at).min() {
            Some(first) => Some(self.series_for(tx, device_id, first, write).await?),
            None => None,
        };
        let upsert = |first: usize| {
            format!(
                "INSERT INTO device_metrics (device_id, collected_at, doc) VALUES (${first}, ${}, ${}) \
                 ON CONFLICT (device_id) DO UPDATE SET collected_at = excluded.collected_at, doc = excluded.doc",
                first + 1,
                first + 2
            )
        };
        let insert = |first: usize| {
            format!(
                "INSERT INTO metric_samples (device, at, vals) VALUES {} \
                 ON CONFLICT (device, at) DO NOTHING",
                crate::ingest::placeholders_from(first, write.samples.len(), 3)
            )
        };
        fn bind_latest<'q>(
            q: Query<'q>,
            device_id: &str,
            (at, doc): (Timestamp, String),
        ) -> Query<'q> {
            q.bind(device_id.to_string()).bind(at.0).bind(doc)
        }
        fn bind_samples<'q>(mut q: Query<'q>, list: &SeriesList, samples: &[Sample]) -> Query<'q> {
            for sample in samples {
                q = q
                    .bind(list.device)
                    .bind(sample.at.0)
                    .bind(list.encode(sample));
            }
            q
        }
        match (latest, &series, self.backend) {
            (Some(latest), Some((list, _)), Backend::Sqlite) => {
                let q = sqlx::query(safe_sql!("{}; {}", upsert(1), insert(4)));
                bind_samples(bind_latest(q, device_id, latest), list, &write.samples)
                    .execute(&mut **tx)
                    .await?;
            }
            (latest, series, _) => {
                if let Some(latest) = latest {
                    bind_latest(sqlx::query(safe_sql!("{}", upsert(1))), device_id, latest)
                        .execute(&mut **tx)
                        .await?;
                }
                if let Some((list, _)) = series {
                    bind_samples(
                        sqlx::query(safe_sql!("{}", insert(1))),
                        list,
                        &write.samples,
                    )
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        let Some((list, changed)) = series else {
            return Ok(None);
        };
        if let Some(back) = write.reroll_from {
            sqlx::query(
                "UPDATE metric_series SET rolled_until = $1 WHERE device = $2 AND rolled_until > $1",
            )
            .bind(back.0)
            .bind(list.device)
            .execute(&mut **tx)
            .await?;
        }
        Ok(changed.then_some(list))
    }

    /// The device's series list knowing every series of `write` (up to the bound): the
    /// cached copy when it does, else the stored one (made if the device has none, its
    /// watermark at the bucket of `first`) extended and stored. Whether it is new to the
    /// cache.
    async fn series_for(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        device_id: &str,
        first: Timestamp,
        write: &MetricHistoryWrite,
    ) -> Result<(Arc<SeriesList>, bool)> {
        if let Some(list) = self.series_cache.get(device_id)
            && list.knows_all(write)
        {
            return Ok((list, false));
        }
        let stored = load_or_create(tx, device_id, first_watermark(first)).await?;
        let (list, added) = stored.extended(write);
        if added {
            let names = serde_json::to_string(&list.names)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query("UPDATE metric_series SET names = $1 WHERE device = $2")
                .bind(names)
                .bind(list.device)
                .execute(&mut **tx)
                .await?;
            if list.names.len() >= MAX_SERIES_PER_DEVICE {
                tracing::warn!(device = %device_id, max = MAX_SERIES_PER_DEVICE,
                    "this device reports more series than are kept; the rest are dropped");
            }
        }
        Ok((Arc::new(list), true))
    }

    /// Claims up to `limit` devices whose watermark is before `target` and that no server
    /// holds, for `lease_ms` (on PostgreSQL with `SKIP LOCKED`, so servers share the work).
    pub async fn claim_metric_rollups(
        &self,
        now: Timestamp,
        target: Timestamp,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<RollupClaim>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(safe_sql!(
            "SELECT device, device_id, rolled_until FROM metric_series \
             WHERE rolled_until < $1 AND lease_until <= $2 \
             ORDER BY rolled_until, device LIMIT {limit} {lock}"
        ))
        .bind(target.0)
        .bind(now.0)
        .fetch_all(&mut *tx)
        .await?;
        let claims: Vec<RollupClaim> = rows
            .iter()
            .map(|r| {
                Ok(RollupClaim {
                    device: int(r, "device")?,
                    device_id: text(r, "device_id")?,
                    rolled_until: Timestamp(int(r, "rolled_until")?),
                })
            })
            .collect::<Result<_>>()?;
        if !claims.is_empty() {
            let numbers: Vec<String> = claims.iter().map(|c| c.device.to_string()).collect();
            sqlx::query(safe_sql!(
                "UPDATE metric_series SET lease_until = $1 WHERE device IN ({})",
                numbers.join(", ")
            ))
            .bind(now.plus_millis(lease_ms).0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(claims)
    }

    /// A claimed device's samples in `[from, until)`, oldest first.
    pub async fn metric_samples(
        &self,
        claim: &RollupClaim,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<DeviceSamples> {
        let row = sqlx::query("SELECT names FROM metric_series WHERE device = $1")
            .bind(claim.device)
            .fetch_one(&self.read)
            .await?;
        let list = SeriesList::parse(claim.device, &text(&row, "names")?)?;
        let rows = sqlx::query(
            "SELECT at, vals FROM metric_samples WHERE device = $1 AND at >= $2 AND at < $3 \
             ORDER BY at",
        )
        .bind(claim.device)
        .bind(from.0)
        .bind(until.0)
        .fetch_all(&self.read)
        .await?;
        let samples = rows
            .iter()
            .map(|r| {
                let vals: Vec<u8> = sqlx::Row::try_get(r, "vals")?;
                Ok(Sample {
                    at: Timestamp(int(r, "at")?),
                    values: codec::decode_sample(&vals, |n| list.unit(n))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(DeviceSamples {
            names: list.names,
            samples,
        })
    }

    /// Writes roll-up steps, one short transaction for all of them. Each applies only if
    /// its device's watermark is still where it was claimed (not moved by another server,
    /// nor back by a late sample): its buckets are written (replacing any earlier version),
    /// the watermark moved and the lease released, and what the step may prune deleted.
    /// Returns how many applied; a step that did not is simply taken up again later.
    pub async fn write_metric_rollups(&self, steps: &[RollupWrite]) -> Result<usize> {
        // Records are encoded before the writer is taken.
        let encoded: Vec<Vec<(i64, i64, Vec<u8>)>> = steps
            .iter()
            .map(|step| {
                let unit = |n: u32| {
                    step.names
                        .get(n as usize)
                        .map_or(Unit::BytesPerSecond, SeriesName::unit)
                };
                let rows = |width: i64, buckets: &[Rolled<u32>]| {
                    buckets
                        .iter()
                        .map(|b| (width, b.at.0, codec::encode_rollup(b, unit)))
                        .collect::<Vec<_>>()
                };
                let mut all = rows(FIVE_MINUTES, &step.rollups.five_minutes);
                all.extend(rows(HOURLY, &step.rollups.hourly));
                all
            })
            .collect();
        let mut tx = self.begin_write().await?;
        let mut applied = 0;
        for (step, rows) in steps.iter().zip(encoded) {
            let moved = sqlx::query(
                "UPDATE metric_series SET rolled_until = $1, lease_until = 0 \
                 WHERE device = $2 AND rolled_until = $3",
            )
            .bind(step.until.0)
            .bind(step.claim.device)
            .bind(step.claim.rolled_until.0)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() != 1 {
                continue;
            }
            applied += 1;
            for chunk in rows.chunks(crate::ingest::ROWS_PER_STATEMENT) {
                let sql = safe_sql!(
                    "INSERT INTO metric_rollups (device, width, at, vals) VALUES {} \
                     ON CONFLICT (device, width, at) DO UPDATE SET vals = excluded.vals",
                    crate::ingest::placeholders(chunk.len(), 4)
                );
                let mut q = sqlx::query(sql);
                for (width, at, vals) in chunk {
                    q = q
                        .bind(step.claim.device)
                        .bind(*width)
                        .bind(*at)
                        .bind(vals.clone());
                }
                q.execute(&mut *tx).await?;
            }
            prune(&mut tx, step.claim.device, &step.prune).await?;
        }
        tx.commit().await?;
        Ok(applied)
    }
}

/// The device's series list, made (empty, its watermark at `watermark`) if it has none.
async fn load_or_create(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    watermark: Timestamp,
) -> Result<SeriesList> {
    let row = sqlx::query("SELECT device, names FROM metric_series WHERE device_id = $1")
        .bind(device_id)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = row {
        return SeriesList::parse(int(&row, "device")?, &text(&row, "names")?);
    }
    let row = sqlx::query(
        "INSERT INTO metric_series (device_id, names, rolled_until) VALUES ($1, '[]', $2) \
         RETURNING device",
    )
    .bind(device_id)
    .bind(watermark.0)
    .fetch_one(&mut **tx)
    .await?;
    Ok(SeriesList::new(int(&row, "device")?, Vec::new()))
}

/// Deletes what a step may prune, at most [`PRUNE_ROWS_PER_STEP`] rows of each kind, oldest
/// first (by primary key: no scan of other devices' rows).
async fn prune(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device: i64,
    prune: &Prune,
) -> Result<()> {
    sqlx::query(safe_sql!(
        "DELETE FROM metric_samples WHERE device = $1 AND at IN \
         (SELECT at FROM metric_samples WHERE device = $1 AND at < $2 \
          ORDER BY at LIMIT {PRUNE_ROWS_PER_STEP})"
    ))
    .bind(device)
    .bind(prune.raw_before.0)
    .execute(&mut **tx)
    .await?;
    for (width, before) in [
        (FIVE_MINUTES, prune.five_minutes_before),
        (HOURLY, prune.hourly_before),
    ] {
        sqlx::query(safe_sql!(
            "DELETE FROM metric_rollups WHERE device = $1 AND width = $2 AND at IN \
             (SELECT at FROM metric_rollups WHERE device = $1 AND width = $2 AND at < $3 \
              ORDER BY at LIMIT {PRUNE_ROWS_PER_STEP})"
        ))
        .bind(device)
        .bind(width)
        .bind(before.0)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A device's series and how far its roll-ups have come, as read through a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesCatalog {
    pub(crate) list: SeriesList,
    /// Every 5-minute bucket before this is rolled up; samples from it on are not yet.
    pub rolled_until: Timestamp,
}

impl SeriesCatalog {
    /// The device's series, in the order they first appeared.
    pub fn names(&self) -> &[SeriesName] {
        &self.list.names
    }
}

impl PartialEq for SeriesList {
    fn eq(&self, other: &Self) -> bool {
        self.device == other.device && self.names == other.names
    }
}

/// Most rows one read of a series returns: a year of hourly buckets is under 9,000, two
/// days of samples at a 10 s check-in under 18,000. A bound on memory, not a page size.
pub(crate) const MAX_ROWS_PER_READ: u32 = 50_000;

/// The points of each wanted series (by number, `None` for a series the device does not
/// have) from rows of `(at, vals)` of a table at `resolution`.
pub(crate) fn points_from_rows(
    list: &SeriesList,
    wanted: &[Option<u32>],
    rows: &[(i64, Vec<u8>)],
    raw: bool,
) -> Result<Vec<Vec<steward_core::history::Point>>> {
    use steward_core::history::Point;
    let mut out: Vec<Vec<Point>> = vec![Vec::new(); wanted.len()];
    for (at, vals) in rows {
        let at = Timestamp(*at);
        if raw {
            let values = codec::decode_sample(vals, |n| list.unit(n))?;
            for (slot, number) in out.iter_mut().zip(wanted) {
                if let Some((_, v)) = values.iter().find(|(n, _)| Some(*n) == *number) {
                    slot.push(Point::sample(at, *v));
                }
            }
        } else {
            let (samples, stats) = codec::decode_rollup(vals, |n| list.unit(n))?;
            for (slot, number) in out.iter_mut().zip(wanted) {
                if let Some((_, s)) = stats.iter().find(|(n, _)| Some(*n) == *number) {
                    slot.push(Point {
                        at,
                        avg: s.avg,
                        max: s.max,
                        weight: samples.max(1),
                    });
                }
            }
        }
    }
    Ok(out)
}
