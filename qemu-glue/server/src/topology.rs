//! One place where ports are built and joined: a topology is a list of ports,
//! each a socket, a personality, a MAC, a backend, a pcap and its timing, plus
//! what they share (the default timing, fault injection, test hooks). Ports on `wire` are the two ends
//! of one cable; ports on `switch` share the built-in learning switch; every
//! other backend gives its port a wire of its own.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::bail;

use crate::port::{rx_channel, PcapSpec, PersonalityKind, Port, PortSpec};
use crate::timing::{PortTiming, TimingOverride};
use tunic_wire::channel::{ChannelSink, WireCounters, WireGate, WIRE_BYTES};
use tunic_wire::inject::Spec;
use tunic_wire::ledger::CaseLedger;
use tunic_wire::switch::Switch;
use tunic_wire::{stream, tap, BackendSpec};

/// The MAC of the i-th port when none is given: locally administered, 52:54:00:74:75:(i+1).
pub fn default_mac(i: usize) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0x74, 0x75, (i + 1) as u8]
}

/// One port of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    pub socket: PathBuf,
    pub personality: PersonalityKind,
    pub mac: [u8; 6],
    pub backend: BackendSpec,
    pub pcap: Option<PcapSpec>,
    /// Where this port's timing differs from the topology's.
    pub timing: TimingOverride,
}

/// What every port of a topology shares.
#[derive(Default)]
pub struct Shared<'a> {
    pub timing: PortTiming,
    pub inject: Option<Spec>,
    pub test_hooks: bool,
    pub ledger: Option<&'a CaseLedger>,
}

/// Refuses a topology that cannot be built, with the reason.
pub fn validate(plans: &[PortPlan]) -> anyhow::Result<()> {
    if plans.is_empty() {
        bail!("a topology needs at least one port");
    }
    let mut sockets = HashSet::new();
    let mut macs = HashSet::new();
    for p in plans {
        if !sockets.insert(&p.socket) {
            bail!("socket {} is given to two ports", p.socket.display());
        }
        if !macs.insert(p.mac) {
            bail!(
                "two ports have the MAC address {}",
                crate::port::format_mac(&p.mac)
            );
        }
    }
    let on = |b: &BackendSpec| plans.iter().filter(|p| p.backend == *b).count();
    match on(&BackendSpec::Wire) {
        0 | 2 => {}
        n => bail!(
            "backend wire joins exactly two ports (the two ends of the cable), not {n}; use backend switch for more"
        ),
    }
    if on(&BackendSpec::Switch) == 1 {
        bail!("backend switch joins two ports or more; one port alone has nobody to talk to (use none)");
    }
    Ok(())
}

/// Starts every port of `plans`, joined as their backends say.
pub fn start(
    plans: &[PortPlan],
    shared: &Shared,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<Port>> {
    validate(plans)?;
    // Every port's timing is settled before any port starts, so a bad one starts none.
    let timings = plans
        .iter()
        .map(|p| p.timing.apply(&shared.timing))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let channels: Vec<_> = plans.iter().map(|_| rx_channel()).collect();
    // Per port: the frames it sent that a receiving queue could not take.
    let lost: Vec<Arc<WireCounters>> = plans.iter().map(|_| Arc::default()).collect();
    // Per port on the cable: the back-pressure of the wire into it.
    let gates: Vec<Arc<WireGate>> = plans.iter().map(|_| WireGate::new(WIRE_BYTES)).collect();
    let members = |b: BackendSpec| -> Vec<usize> {
        (0..plans.len())
            .filter(|&i| plans[i].backend == b)
            .collect()
    };
    let cable = members(BackendSpec::Wire);
    let switched = members(BackendSpec::Switch);
    let switch = Switch::new(switched.iter().map(|&i| channels[i].0.clone()).collect());
    let mut ports = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let deliver = channels[i].0.clone();
        let lost_here = lost[i].clone();
        let (sink, joined): (Box<dyn device_model::FrameSink>, bool) = match &plan.backend {
            BackendSpec::Wire => {
                let peer = cable.iter().copied().find(|&j| j != i).unwrap_or(i);
                let sink = ChannelSink::gated(
                    channels[peer].0.clone(),
                    lost[i].clone(),
                    gates[peer].clone(),
                );
                (Box::new(sink), true)
            }
            BackendSpec::Switch => {
                let index = switched.iter().position(|&j| j == i).unwrap_or(0);
                (Box::new(switch.sink(index, lost[i].clone())), true)
            }
            BackendSpec::None => (Box::new(device_model::NullSink), false),
            BackendSpec::StreamConnect(p) => (stream::connect(p, deliver, lost_here)?, true),
            BackendSpec::StreamListen(p) => (stream::listen(p, deliver, lost_here)?, true),
            BackendSpec::Tap(name) => (tap::open(name, deliver, lost_here)?, true),
        };
        let spec = PortSpec {
            socket: plan.socket.clone(),
            personality: plan.personality,
            mac: plan.mac,
            inject_every: shared.inject,
            test_hooks: shared.test_hooks,
            case_marks: shared.ledger.map(CaseLedger::sender),
            pcap: plan.pcap.clone(),
            rx_gate: (plan.backend == BackendSpec::Wire).then(|| gates[i].clone()),
        };
        let (_, rx) = channels[i].clone();
        let mut port = Port::start_timed(spec, &timings[i], sink, rx, stop.clone())?;
        if joined {
            port.set_wire_counters(lost[i].clone());
        }
        ports.push(port);
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: u8, backend: BackendSpec) -> PortPlan {
        PortPlan {
            socket: format!("/tmp/t{n}.sock").into(),
            personality: PersonalityKind::Igb,
            mac: [0x52, 0x54, 0, 0, 0, n],
            backend,
            pcap: None,
            timing: TimingOverride::default(),
        }
    }

    #[test]
    fn topologies_that_cannot_be_wired_are_refused_with_the_reason() {
        use BackendSpec::*;
        let ok = |p: &[PortPlan]| validate(p).map_err(|e| e.to_string());
        assert!(ok(&[plan(1, None)]).is_ok());
        assert!(ok(&[plan(1, Wire), plan(2, Wire)]).is_ok());
        assert!(ok(&[
            plan(1, Switch),
            plan(2, Switch),
            plan(3, Switch),
            plan(4, None)
        ])
        .is_ok());
        assert!(ok(&[plan(1, Wire), plan(2, Wire), plan(3, Wire)])
            .unwrap_err()
            .contains("exactly two"));
        assert!(ok(&[plan(1, Wire)]).unwrap_err().contains("exactly two"));
        assert!(ok(&[plan(1, Switch), plan(2, None)])
            .unwrap_err()
            .contains("two ports or more"));
        let mut same_socket = plan(2, None);
        same_socket.socket = plan(1, None).socket;
        assert!(ok(&[plan(1, None), same_socket])
            .unwrap_err()
            .contains("two ports"));
        let mut same_mac = plan(2, None);
        same_mac.mac = plan(1, None).mac;
        assert!(ok(&[plan(1, None), same_mac]).unwrap_err().contains("MAC"));
        assert!(ok(&[]).is_err());
    }
}
