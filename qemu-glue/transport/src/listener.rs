//! The listening socket: one client at a time, as vfio-user has it.

use std::io;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::channel::UnixChannel;

/// A bound vfio-user socket. The socket file is removed when it is dropped.
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    /// Binds `path`, which must not exist: a socket file left there may belong
    /// to another server, and taking it over would cut that server's client off.
    pub fn bind(path: &Path) -> io::Result<Self> {
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "socket path {} already exists: another tunic may be serving it; remove it if not",
                    path.display()
                ),
            ));
        }
        Ok(Self {
            listener: UnixListener::bind(path)?,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the next client.
    pub fn accept(&self) -> io::Result<UnixChannel> {
        let (stream, _) = self.listener.accept()?;
        UnixChannel::new(stream)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
