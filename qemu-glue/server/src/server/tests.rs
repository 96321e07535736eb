use super::*;
use vfio_user_transport::wire::RegionAccess;
use vfio_user_transport::{Backend as _, ScriptedChannel};

#[test]
fn region_table_shape() {
    let r = regions(&[(0, 0x20000), (3, 0x4000)], 4096);
    assert_eq!(r.len(), 9);
    assert_eq!(r[0].size, 0x20000);
    assert_eq!((r[1].size, r[1].flags), (0, 0));
    assert_eq!(r[3].size, 0x4000);
    assert_eq!(r[7].size, 4096);
    let i = irqs(10);
    assert_eq!(i.len(), 5);
    assert_eq!(i[irq::MSIX as usize].count, 10);
}

/// A function whose BAR0 write at 0x100 hits a bug in the model.
#[derive(Default)]
struct Buggy {
    faults: u32,
    value: u32,
}

impl Personality for Buggy {
    fn bar_sizes(&self) -> Vec<(u32, u64)> {
        vec![(0, 0x1000)]
    }
    fn config_size(&self) -> u64 {
        256
    }
    fn msix_vectors(&self) -> u32 {
        1
    }
    fn config_read(&mut self, _off: u64, data: &mut [u8]) {
        data.fill(0)
    }
    fn config_write(&mut self, _off: u64, _data: &[u8]) {}
    fn bar_read(&mut self, _bar: u32, off: u64, data: &mut [u8]) {
        if off == 0x200 {
            panic!("model bug on read");
        }
        data.copy_from_slice(&self.value.to_le_bytes()[..data.len()]);
    }
    fn bar_write(&mut self, _bar: u32, off: u64, data: &[u8]) {
        if off == 0x100 {
            let v: Vec<u8> = Vec::new();
            let _ = v[data.len()]; // an index out of bounds, as a real bug would be
        }
        let mut b = [0u8; 4];
        b[..data.len().min(4)].copy_from_slice(&data[..data.len().min(4)]);
        self.value = u32::from_le_bytes(b);
    }
    fn reset(&mut self) {}
    fn receive(&mut self, _frame: &[u8]) {}
    fn counters(&self) -> device_model::CounterReport {
        device_model::CounterReport::default()
    }
    fn contain_fault(&mut self) {
        self.faults += 1;
    }
}

fn backend(device: Arc<Mutex<dyn Personality>>) -> DeviceBackend {
    DeviceBackend::new(
        device,
        Arc::new(DmaSpace::new()),
        Arc::new(EventfdIrq::default()),
    )
}

#[test]
fn a_panic_in_a_device_operation_is_contained_and_shown_as_a_device_fault() {
    let buggy = Arc::new(Mutex::new(Buggy::default()));
    let device: Arc<Mutex<dyn Personality>> = buggy.clone();
    let mut b = backend(device);
    assert_eq!(b.region_write(0, 0x100, &[1, 2, 3, 4]), Ok(()));
    let mut data = [0u8; 4];
    assert_eq!(b.region_read(0, 0x200, &mut data), Ok(()));
    assert_eq!(data, [0xff; 4], "a failed read completes with all ones");
    // The lock is not poisoned and the device goes on answering.
    assert_eq!(b.region_write(0, 0x10, &[7, 0, 0, 0]), Ok(()));
    assert_eq!(b.region_read(0, 0x10, &mut data), Ok(()));
    assert_eq!(data, [7, 0, 0, 0]);
    let faults = buggy.lock().expect("not poisoned").faults;
    assert_eq!(faults, 2, "each contained panic is counted by the device");
}

fn message(id: u16, command: u16, body: &[u8]) -> Vec<u8> {
    vfio_user_transport::wire::message(id, command, 0, body)
}

#[test]
fn the_connection_outlives_a_panic_in_the_device() {
    let device: Arc<Mutex<dyn Personality>> = Arc::new(Mutex::new(Buggy::default()));
    let mut b = backend(device);
    let info = b.info();
    let write = |offset: u64, id: u16| {
        let a = RegionAccess {
            offset,
            region: 0,
            count: 4,
        };
        message(id, 10, &a.encode().bytes(&[5, 0, 0, 0]).0)
    };
    let read = RegionAccess {
        offset: 0,
        region: 0,
        count: 4,
    };
    let mut input = message(1, 1, b"\0\0\0\0{}\0");
    input.extend(write(0x100, 2));
    input.extend(write(0x0, 3));
    input.extend(message(4, 9, &read.encode().0));
    let mut ch = ScriptedChannel::new(input);
    let counters = Arc::new(TransportCounters::default());
    let end = Session::new(info, counters.clone()).run(&mut ch, &mut b);
    assert!(matches!(end, SessionEnd::Closed), "{end:?}");
    // Four replies, none an error; the last read sees the write after the panic.
    let sent = &ch.sent;
    assert_eq!(&sent[sent.len() - 4..], &[5, 0, 0, 0]);
    assert_eq!(
        counters.refused.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
