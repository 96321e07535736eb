use offload_engines::cost::*;
fn finishes(b: &Breakdown, packets: u64, in_flight: u64) -> Vec<Picos> {
    let mut q = EventQueue::new();
    let mut clock = VirtualClock::default();
    let mut res = Resources::new();
    let mut started = 0;
    while started < in_flight.min(packets) {
        q.schedule(Picos::ZERO, (started, 0usize));
        started += 1;
    }
    let mut out = vec![];
    while let Some((now, (p, k))) = q.step(&mut clock) {
        if k == b.stages.len() {
            out.push(now);
            if started < packets {
                q.schedule(now, (started, 0));
                started += 1;
            }
            continue;
        }
        let d = res.book(now, b.direction, &b.stages[k]);
        q.schedule(d, (p, k + 1));
    }
    out
}
fn main() {
    let fast = PcieLink {
        generation: Generation::Gen4,
        width: LinkWidth::X16,
        ..PcieLink::default()
    };
    for (pcie, speed, len) in [
        (
            PcieLink {
                generation: Generation::Gen1,
                width: LinkWidth::X1,
                ..PcieLink::default()
            },
            LinkSpeed::Gbps10,
            1514,
        ),
        (PcieLink::default(), LinkSpeed::Gbps10, 60),
        (PcieLink::default(), LinkSpeed::Gbps1, 60),
        (fast, LinkSpeed::Gbps100, 60),
        (fast, LinkSpeed::Gbps25, 60),
    ] {
        let params = Params {
            speed,
            pcie,
            ..Params::default()
        };
        let shape = TxShape {
            descriptors: 1,
            write_backs: 1,
            bytes: len,
            checksum: true,
            ..TxShape::default()
        };
        let b = TxCost::of(&params, &shape);
        let bn = b.bottleneck().1.as_ps();
        let bound = 1e12 / bn as f64;
        let lat = b.total().as_ps();
        let w0 = 2 * lat / bn + 16;
        println!("{:?} lat {lat} bn {bn} w0 {w0}", speed);
        for (n, w) in [
            (20000u64, w0),
            (100000, w0),
            (20000, 2 * w0),
            (20000, w0 / 2),
        ] {
            let f = finishes(&b, n, w);
            let e = |a: usize, z: usize| {
                let r = (z - a) as f64 * 1e12 / (f[z] - f[a]).as_ps() as f64;
                (r - bound) / bound * 100.0
            };
            let n = n as usize;
            let w = w as usize;
            println!(
                "  n {n} w {w}: all {:.4}% half->n-w {:.4}%  n-2w..n-w {:.4}%",
                e(0, n - 1),
                e(n / 2, n - w),
                e(n - 3 * w, n - w)
            );
        }
    }
}
