//! Progress events of a run: the driver never prints; whoever runs it observes.

use crate::record::RunReport;

/// Progress events of a run. Every method has a no-op default.
pub trait Observer {
    /// A class starts: its name and how many warm-up and measured calls it will make.
    fn class_started(&mut self, _class: &str, _warmup: u32, _calls: u32) {}
    /// A call finished.
    fn call_done(&mut self, _measured: bool, _ok: bool) {}
    /// A class finished; `report` holds every class so far (status may be failed).
    fn class_done(&mut self, _report: &RunReport) {}
    /// Something the user should know (a cap, a skipped backend).
    fn note(&mut self, _line: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}
