use offload_engines::cost::*;
fn main() {
    let params = Params { speed: LinkSpeed::Gbps10, pcie: PcieLink { generation: Generation::Gen1, width: LinkWidth::X1, ..PcieLink::default() }, ..Params::default() };
    let shape = TxShape { descriptors: 1, write_backs: 1, bytes: 1514, checksum: true, ..TxShape::default() };
    let b = TxCost::of(&params, &shape);
    let bound = 1e12 / b.bottleneck().1.as_ps() as f64;
    for (n, w) in [(20000u64, 256u64), (20000, 64), (20000, 16), (20000, 8), (100000, 256), (100000, 64)] {
        let r = steady_rate(&b, n, w).per_second();
        println!("{n} {w} {r} err {:.4}%", (r - bound) / bound * 100.0);
    }
}
