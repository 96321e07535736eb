//! Provisions QEMU and a Debian guest and boots it.
