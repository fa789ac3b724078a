//! Where the run's figures go besides the summary: the network and file
//! outputs of `--out` ([`out`]), streamed while the run goes. The summary's file
//! exports (HTML, JUnit, k6's summary) are `sls_load_report::export`'s.

pub mod out;
