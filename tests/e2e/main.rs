//! End-to-end tests: the real `sls-load`, `bootstrap` and `sls-load-target`
//! binaries, talking through the local Lambda and S3 stand-ins on loopback.
//! One module per area; each test reads like the rule it checks.

mod abort_on_fail;
mod aws_credentials;
mod aws_deploy;
mod aws_mode;
mod body_limit;
mod bounded;
mod ci_outputs;
mod cli_edges;
mod compare;
mod conformance;
mod dns;
mod drill;
mod engine;
mod faults;
mod golden;
mod html_report;
mod ids;
mod infra;
mod infra_tools;
mod k6_rest;
mod k6_scripts;
mod k6_seeds;
mod k6_vocabulary;
mod kill_switch;
mod network;
mod outputs;
mod package;
mod preflight;
mod rates;
mod refused_at_plan;
mod run;
mod run_events;
mod scale;
mod scenario_errors;
mod secrets;
mod served_by;
mod tags;
mod think_time;
mod trust;
mod vouched;
mod vu_split;
mod zones;
