//! A failover drill, as reported: its events as they ran ([`events`], the
//! `events.json` record) and what each did to every client region
//! ([`analysis`], the summary's `drill` section, timed to a fraction of a
//! second by `band`). The drill as planned is
//! `sls_load_plan::drill`; its thresholds are judged with every other one in
//! `crate::judge`, and it is shown by `crate::render` and the HTML export.

pub mod analysis;
mod band;
pub mod events;
