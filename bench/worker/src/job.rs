//! The job a Lambda worker would get for this benchmark: closed mode is
//! `constant-vus`, fixed-rate mode `constant-arrival-rate`. It builds the job
//! only; running it and measuring it are elsewhere.

use std::time::{Duration, SystemTime};

use sls_load_core::job::{FORMAT_VERSION, Job, JobScript, ScriptFile, WorkerId};

use crate::BenchError;
use crate::args::BenchArgs;

/// The job for `args`, and its executor's name.
///
/// The job is built as the JSON Invoke payload and parsed like
/// `sls_load_function::Worker::invoke` parses it, so optional keys the job format
/// gains keep their defaults.
pub fn build_job(args: &BenchArgs) -> Result<(Job, &'static str), BenchError> {
    let now = SystemTime::now();
    let stamp = now.duration_since(SystemTime::UNIX_EPOCH)?;
    let (name, executor) = match args.rate {
        Some(rate) => (
            "constant-arrival-rate",
            serde_json::json!({ "type": "constant-arrival-rate", "rate": rate, "offset": "0s" }),
        ),
        None => (
            "constant-vus",
            serde_json::json!({ "type": "constant-vus", "vus": args.vus }),
        ),
    };
    let mut request = serde_json::json!({ "name": "get", "method": "GET", "url": args.path, "expect_status": 200 });
    if let Some(think) = args.think {
        let think = humantime::format_duration(think).to_string();
        request["sleep"] = serde_json::json!({ "min": think, "max": think });
    }
    let mut http = serde_json::json!({});
    if args.http2 {
        http["version"] = "http2".into();
    }
    if args.max_streams > 1 {
        http["max_streams_per_connection"] = args.max_streams.into();
    }
    let payload = serde_json::json!({
        "format": FORMAT_VERSION,
        "run_id": format!("bench-{}-{:03}", stamp.as_secs(), stamp.subsec_millis()),
        "worker_id": WorkerId::numbered(0),
        "region": "local",
        // Enough for the runtime to be ready; VUs connect on their first iteration.
        "start_at": humantime::format_rfc3339_nanos(now + Duration::from_millis(300)).to_string(),
        "duration": humantime::format_duration(args.duration).to_string(),
        "target": args.target,
        "scenarios": [{
            "name": "bench",
            "executor": executor,
            "pre_allocated_vus": args.vus,
            "max_vus": args.max_vus.unwrap_or(args.vus).max(args.vus),
            "requests": [request],
        }],
        "http": http,
        "results": { "bucket": "local", "region": "local" },
        "flush_every": humantime::format_duration(args.flush_every).to_string(),
        "request_timeout": "10s",
    });
    let mut job = serde_json::from_value::<Job>(payload).map_err(BenchError::Job)?;
    if let Some(path) = &args.script {
        let source = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
            path: path.clone(),
            source,
        })?;
        let main = path
            .file_name()
            .map_or("script.js".into(), |n| n.to_string_lossy().into_owned());
        job.scenarios[0].requests.clear();
        job.env.insert("BASE".into(), args.target.clone());
        job.script = Some(JobScript {
            main: main.clone(),
            files: [(main, ScriptFile::Text(source))].into(),
            exec: Default::default(),
            setup_data: None,
            discard_response_bodies: false,
            tags: Default::default(),
            retarget: false,
        });
    }
    Ok((job, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::tests::args;
    use sls_load_core::job::Executor;

    #[test]
    fn closed_jobs_use_constant_vus() {
        let a = args(&["--target", "http://127.0.0.1:1", "--vus", "7"]).expect("parses");
        let (job, name) = build_job(&a).expect("job");
        let executor = serde_json::to_value(&job.scenarios[0].executor).expect("serializes");
        assert_eq!(executor["type"], name);
        assert_eq!(name, "constant-vus");
        assert_eq!(executor["vus"], 7);
    }

    #[test]
    fn http2_streams_think_time_and_max_vus_reach_the_job() {
        let a = args(&[
            "--target",
            "http://127.0.0.1:1",
            "--vus",
            "20",
            "--max-vus",
            "80",
            "--http2",
            "--max-streams",
            "100",
            "--think",
            "2s",
        ])
        .expect("parses");
        let (job, _) = build_job(&a).expect("job");
        assert_eq!(job.http.max_streams_per_connection, 100);
        assert_eq!(
            job.http.version,
            sls_load_core::job::HttpVersionChoice::Http2
        );
        assert_eq!(job.scenarios[0].max_vus, 80);
        let think = job.scenarios[0].requests[0].sleep.expect("think time");
        assert_eq!(think.min, Duration::from_secs(2));
    }

    #[test]
    fn fixed_rate_jobs_use_the_open_model() {
        let a = args(&["--target", "http://127.0.0.1:1", "--rate", "500"]).expect("parses");
        let (job, name) = build_job(&a).expect("job");
        assert_eq!(name, "constant-arrival-rate");
        assert_eq!(job.scenarios[0].max_vus, 50);
        assert!(matches!(
            job.scenarios[0].executor,
            Executor::ConstantArrivalRate { rate, .. } if rate == 500.0
        ));
    }
}
