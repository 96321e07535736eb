//! Admin queue commands: what the firmware answers.
//! (Filled in by the admin-queue work.)

use super::adminq::{AqDesc, AqEvent, AqStatus};
use super::I40e;

impl I40e {
    /// Executes one command. `buf` holds the indirect buffer (empty without one);
    /// the handler may rewrite it (it is written back to guest memory).
    pub(super) fn aq_execute(&mut self, desc: &mut AqDesc, _buf: &mut Vec<u8>) -> AqStatus {
        tracing::debug!(opcode = desc.opcode(), "admin command not modelled");
        AqStatus::Esrch
    }

    /// The get_link_status event for a link change, when events are enabled.
    pub(super) fn link_event(&mut self) -> Option<AqEvent> {
        None
    }
}
