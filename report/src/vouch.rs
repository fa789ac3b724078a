//! What a worker's manifest vouches for, and whether an object is where it
//! says it belongs: the checks collect runs before an object counts. A
//! manifest's totals must add up to the logs it lists ([`totals`]); an
//! interval log must be listed in its worker's manifest with the requests it
//! holds ([`listed`]) and must not name another run, region or worker in its
//! origin comment ([`origin`]); a name its worker gave up on ([`superseded`])
//! is left out quietly (its intervals were written again under a later name). Each check returns the reason an object is left
//! out, as the problem's message. This module reads no store and merges
//! nothing (collect does both); it is a leaf.

use sls_load_core::hlog;
use sls_load_core::id::files;
use sls_load_core::job::{Manifest, RunId};

use crate::problem::WorkerKey;

/// Whether `m`'s per-request totals add up to what its logs hold: the requests
/// of the logs it lists, plus those it says it could not store.
pub fn totals(m: &Manifest) -> Result<(), String> {
    if m.logs.is_empty() {
        // Older workers list no logs: nothing to add up.
        return Ok(());
    }
    let counted = m
        .requests
        .values()
        .fold(0u64, |n, c| n.saturating_add(c.requests));
    let unwritten = m.unwritten.as_ref().map_or(0, |u| u.requests);
    let logged = m
        .logs
        .iter()
        .fold(unwritten, |n, l| n.saturating_add(l.requests));
    if counted != logged {
        return Err(format!(
            "manifest counts {counted} requests but the logs it lists hold {logged}; \
             its counts are left out and the worker is reported from its logs"
        ));
    }
    if usize::try_from(m.latency_logs).ok() != Some(m.logs.len()) {
        return Err(format!(
            "manifest says {} interval logs but lists {}; its counts are left out and \
             the worker is reported from its logs",
            m.latency_logs,
            m.logs.len()
        ));
    }
    Ok(())
}

/// The interval-log names `m` lists: `logs`, or for an older manifest without
/// it, the numbered names up to `latency_logs`.
pub fn names(m: &Manifest) -> Vec<String> {
    match m.logs.is_empty() {
        true => (0..m.latency_logs).map(files::latency_log).collect(),
        false => m.logs.iter().map(|l| l.name.clone()).collect(),
    }
}

/// Whether `m` lists the log `file` with `requests` requests (an older manifest
/// without `logs`: whether `file` is one of its numbered logs).
pub fn listed(m: &Manifest, file: &str, requests: u64) -> Result<(), String> {
    if m.logs.is_empty() {
        return match names(m).iter().any(|n| n == file) {
            true => Ok(()),
            false => Err(unlisted(m)),
        };
    }
    match m.logs.iter().find(|l| l.name == file) {
        None => Err(unlisted(m)),
        Some(l) if l.requests != requests => Err(format!(
            "holds {requests} requests where its manifest says {}; left out",
            l.requests
        )),
        Some(_) => Ok(()),
    }
}

/// Whether `m` gave up on the name `file` (its PUT failed and its intervals
/// went on to a later name): an object there is left out without a problem.
pub fn superseded(m: &Manifest, file: &str) -> bool {
    m.superseded.iter().any(|n| n == file)
}

fn unlisted(m: &Manifest) -> String {
    format!(
        "not listed in its worker's manifest (which lists {} logs); left out",
        m.latency_logs
    )
}

/// Whether the origin comments of a log stored under `who`'s prefix of `run`
/// name that run, region and worker (a log without one, from an older writer
/// or another tool, passes).
pub fn origin(bytes: &[u8], run: &RunId, who: &WorkerKey) -> Result<(), String> {
    let (region, worker) = (who.0.as_str(), who.1.as_str());
    match hlog::origins(bytes).find(|o| !o.is(run.as_str(), region, worker)) {
        None => Ok(()),
        Some(o) => Err(format!(
            "its header says it belongs to {o}, not to this run, region and worker; left out"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use sls_load_core::job::{LogRecord, Region, RequestCounts, Unwritten, WorkerId};

    use super::*;

    fn manifest(requests: u64, logs: &[(&str, u64)]) -> Manifest {
        Manifest {
            format: 1,
            run_id: RunId::new("20261123-203921-98bb").unwrap(),
            region: Region::us_east_1(),
            worker_id: WorkerId::numbered(0),
            init_duration: None,
            invoked_at: SystemTime::UNIX_EPOCH,
            start_at: SystemTime::UNIX_EPOCH,
            first_request_at: None,
            finished_at: SystemTime::UNIX_EPOCH,
            dropped_iterations: 0,
            paused_iterations: 0,
            requests: BTreeMap::from([(
                "home".to_owned(),
                RequestCounts {
                    requests,
                    ..Default::default()
                },
            )]),
            checks: BTreeMap::new(),
            exceptions: BTreeMap::new(),
            aborted: None,
            latency_logs: logs.len() as u32,
            logs: logs
                .iter()
                .map(|(name, requests)| LogRecord {
                    name: (*name).to_owned(),
                    requests: *requests,
                })
                .collect(),
            unwritten: None,
            superseded: Vec::new(),
            stopped: false,
            resolutions: Vec::new(),
        }
    }

    #[test]
    fn a_manifests_totals_must_add_up_to_its_logs_and_what_it_could_not_store() {
        let logs = [("latency-00000.hlog", 300), ("latency-00001.hlog", 100)];
        assert!(totals(&manifest(400, &logs)).is_ok());
        let inflated = totals(&manifest(999_999, &logs)).unwrap_err();
        assert!(inflated.contains("999999 requests"), "{inflated}");
        assert!(inflated.contains("hold 400"), "{inflated}");
        let mut m = manifest(450, &logs);
        m.unwritten = Some(Unwritten {
            first_second: 8,
            last_second: 9,
            requests: 50,
            error: "503".into(),
        });
        assert!(totals(&m).is_ok());
        m.latency_logs = 7;
        assert!(totals(&m).unwrap_err().contains("says 7 interval logs"));
    }

    #[test]
    fn a_log_counts_only_when_listed_with_the_requests_it_holds() {
        let m = manifest(400, &[("latency-00000.hlog", 400)]);
        assert!(listed(&m, "latency-00000.hlog", 400).is_ok());
        let surplus = listed(&m, "latency-00000.hlog", 4_294_967_695).unwrap_err();
        assert!(surplus.contains("4294967695 requests"), "{surplus}");
        assert!(
            listed(&m, "latency-00004.hlog", 77)
                .unwrap_err()
                .contains("not listed")
        );
        // An older manifest lists no names: its numbered logs are its own.
        let mut old = manifest(400, &[]);
        old.latency_logs = 2;
        assert!(listed(&old, "latency-00001.hlog", 5).is_ok());
        assert!(listed(&old, "latency-00002.hlog", 5).is_err());
    }

    #[test]
    fn a_log_naming_another_region_in_its_header_is_refused() {
        let run = RunId::new("20261123-203921-98bb").unwrap();
        let who = (Region::new("eu-west-1").unwrap(), WorkerId::numbered(0));
        let here = hlog::origin_comment(run.as_str(), "eu-west-1", "w0000");
        let there = hlog::origin_comment(run.as_str(), "us-east-1", "w0000");
        assert!(origin(format!("#{here}\n").as_bytes(), &run, &who).is_ok());
        assert!(origin(b"#other comment\n", &run, &who).is_ok());
        let refused = origin(format!("#{there}\n").as_bytes(), &run, &who).unwrap_err();
        assert!(refused.contains("region=us-east-1"), "{refused}");
    }
}
