//! `tunic bench timing`: draws docs/timing-throughput.svg, modelled Tx throughput
//! against frame size at 1, 10, 25 and 100 Gb/s, next to the analytic Ethernet line
//! rate and the PCIe bound from TLP arithmetic, on the 82576's own PCIe 2.0 x4 link
//! and on a PCIe 4.0 x16 link. Pure model: no guest, deterministic.

use std::error::Error;

use offload_engines::cost::{
    self, Generation, LinkSpeed, LinkWidth, Params, PcieLink, TxCost, TxShape,
};
use plotters::prelude::*;

const FRAMES: u64 = 100_000;
const SMALLEST: u64 = 64;
const LARGEST: u64 = 9_000;
const POINTS: u32 = 40;

/// Frame sizes (FCS included) spaced evenly on a log axis, plus 1518.
fn frame_sizes() -> Vec<u64> {
    let ratio = (LARGEST as f64 / SMALLEST as f64).powf(1.0 / f64::from(POINTS - 1));
    let mut sizes: Vec<u64> = (0..POINTS)
        .map(|i| (SMALLEST as f64 * ratio.powi(i as i32)).round() as u64)
        .chain([1518])
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// A plain frame as igb sends it, its interrupt moderated away.
fn shape(len_with_fcs: u64) -> TxShape {
    TxShape {
        descriptors: 1,
        write_backs: 1,
        bytes: len_with_fcs - cost::FCS,
        checksum: true,
        ..TxShape::default()
    }
}

fn gbps(frames_per_second: f64, len_with_fcs: u64) -> f64 {
    frames_per_second * (len_with_fcs * 8) as f64 / 1e9
}

/// Modelled throughput: the event-driven simulation of a stream of frames, with
/// enough frames in flight to cover the latency a loaded link adds to each read.
fn simulated(params: &Params, len: u64) -> f64 {
    let breakdown = TxCost::of(params, &shape(len));
    let (_, per_packet) = breakdown.bottleneck();
    let in_flight = 4 * breakdown.total().as_ps() / per_packet.as_ps() + 32;
    gbps(
        cost::steady_rate(&breakdown, FRAMES, in_flight).per_second(),
        len,
    )
}

/// Line rate: every frame pays preamble, SFD and inter-frame gap.
fn line_rate(speed: LinkSpeed, len: u64) -> f64 {
    speed.bits_per_second() as f64 / 1e9 * len as f64 / cost::wire_bytes(len - cost::FCS) as f64
}

/// PCIe bound: the busier link direction's time per frame.
fn pcie_bound(params: &Params, len: u64) -> f64 {
    let busy = TxCost::of(params, &shape(len)).busy();
    let per_frame = busy.pcie_up.max(busy.pcie_down);
    gbps(1e12 / per_frame.as_ps() as f64, len)
}

fn speed_label(speed: LinkSpeed) -> &'static str {
    match speed {
        LinkSpeed::Mbps10 => "10 Mb/s",
        LinkSpeed::Mbps100 => "100 Mb/s",
        LinkSpeed::Gbps1 => "1 Gb/s",
        LinkSpeed::Gbps10 => "10 Gb/s",
        LinkSpeed::Gbps25 => "25 Gb/s",
        LinkSpeed::Gbps100 => "100 Gb/s",
    }
}

/// Draws the sweep to `path` (SVG) and prints the sampled figures.
pub fn run(path: &str) -> anyhow::Result<()> {
    draw(path).map_err(|e| anyhow::anyhow!("drawing {path}: {e}"))
}

fn draw(path: &str) -> Result<(), Box<dyn Error>> {
    let links = [
        (
            "PCIe 2.0 x4 (the 82576's link, default)",
            PcieLink::default(),
        ),
        (
            "PCIe 4.0 x16",
            PcieLink {
                generation: Generation::Gen4,
                width: LinkWidth::X16,
                ..PcieLink::default()
            },
        ),
    ];
    let colors = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
    ];
    let sizes = frame_sizes();

    let root = SVGBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.titled(
        "Modelled Tx throughput vs frame size: solid = event-driven model, dashed = Ethernet line rate, black = PCIe bound",
        ("sans-serif", 20),
    )?;
    for ((name, pcie), area) in links.iter().zip(body.split_evenly((1, 2)).iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(*name, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (SMALLEST as f64..LARGEST as f64).log_scale(),
                (0.5_f64..300.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v}"))
            .x_desc("frame size, bytes (FCS included)")
            .y_desc("throughput, Gb/s of frame bits")
            .draw()?;

        let base = Params {
            pcie: *pcie,
            ..Params::default()
        };
        chart
            .draw_series(LineSeries::new(
                sizes.iter().map(|&l| (l as f64, pcie_bound(&base, l))),
                BLACK.stroke_width(2),
            ))?
            .label("PCIe bound")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));

        for (speed, color) in LinkSpeed::ALL.into_iter().zip(colors) {
            let params = Params { speed, ..base };
            chart.draw_series(DashedLineSeries::new(
                sizes.iter().map(|&l| (l as f64, line_rate(speed, l))),
                6,
                4,
                color.stroke_width(1),
            ))?;
            for len in [64, 1518, 9000] {
                println!(
                    "{name} | {} | {len} B | modelled {:.3} Gb/s | line rate {:.3} | PCIe bound {:.3}",
                    speed_label(speed),
                    simulated(&params, len),
                    line_rate(speed, len),
                    pcie_bound(&base, len)
                );
            }
            let modelled: Vec<(f64, f64)> = sizes
                .iter()
                .map(|&l| (l as f64, simulated(&params, l)))
                .collect();
            chart
                .draw_series(LineSeries::new(modelled.clone(), color.stroke_width(3)))?
                .label(speed_label(speed))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart.draw_series(
                modelled
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()?;
    }
    root.present()?;
    println!("wrote {path}");
    Ok(())
}
